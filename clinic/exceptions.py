"""Domain errors the services raise; each carries a stable code (analysis.errors.ErrorCode)
that the API and UI map. Messages are constants so tests and the API can import them.
"""

from __future__ import annotations

from analysis.errors import ErrorCode


class DomainError(Exception):
    code = ErrorCode.DOMAIN_ERROR
    message = "The request breaks a rule of the clinic."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class ConsentRequired(DomainError):
    code = ErrorCode.CONSENT_REQUIRED
    message = "The patient has not given active consent for this."


class ConsentDatesInvalid(DomainError):
    code = ErrorCode.CONSENT_DATES_INVALID
    message = "A consent must be given by now, and expire after it was given."


class JobAlreadyActive(DomainError):
    code = ErrorCode.JOB_ALREADY_ACTIVE
    message = "This recording is already queued or being analysed."


class RecordingTooLarge(DomainError):
    code = ErrorCode.RECORDING_TOO_LARGE
    message = "The recording is larger than this installation accepts."


class RecordingEmpty(DomainError):
    code = ErrorCode.RECORDING_EMPTY
    message = "The uploaded recording is empty."


class NotAClinician(DomainError):
    code = ErrorCode.NOT_A_CLINICIAN
    message = "Only a clinician of the patient's practice can join the care team."


class ClinicianNotOnCareTeam(DomainError):
    code = ErrorCode.CLINICIAN_NOT_ON_CARE_TEAM
    message = "The clinician is not on the patient's care team."


class OutsideIntegrationCareTeams(DomainError):
    code = ErrorCode.OUTSIDE_INTEGRATION_CARE_TEAMS
    message = "This integration may only act for the care teams it was given."


class TooManyLiveKeys(DomainError):
    code = ErrorCode.TOO_MANY_LIVE_KEYS
    message = (
        "An integration holds at most two live keys (one in use, one rotating in): revoke one "
        "before issuing another."
    )


class WebhookUrlRefused(DomainError):
    code = ErrorCode.WEBHOOK_URL_REFUSED
    message = "Webhook URLs must be https and reach a public address."


class PseudonymTaken(DomainError):
    code = ErrorCode.PSEUDONYM_TAKEN
    message = "Another patient of the practice already has this pseudonym."


class UploadOffsetMismatch(DomainError):
    code = ErrorCode.UPLOAD_OFFSET_MISMATCH
    message = "This piece does not start where the upload stands: ask for its offset and resume."

    def __init__(self, received_bytes: int) -> None:
        super().__init__(
            f"This piece does not start where the upload stands ({received_bytes} bytes "
            "received): resume from there."
        )
        self.received_bytes = received_bytes


class UploadIncomplete(DomainError):
    code = ErrorCode.UPLOAD_INCOMPLETE
    message = "Not all of the upload's bytes have arrived yet."


class RoleAssignmentInvalid(DomainError):
    code = ErrorCode.ROLE_ASSIGNMENT_INVALID
    message = "Roles can be set only for the speakers and faces of the recording's timeline."
