"""Domain errors the services raise; each carries a stable code the API and UI can map.

Messages are constants so tests and the API can import rather than repeat them.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    message = "The request breaks a rule of the clinic."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class ConsentRequired(DomainError):
    code = "consent_required"
    message = "The patient has not given active consent for this."


class JobAlreadyActive(DomainError):
    code = "job_already_active"
    message = "This recording is already queued or being analysed."


class RecordingTooLarge(DomainError):
    code = "recording_too_large"
    message = "The recording is larger than this installation accepts."


class RecordingEmpty(DomainError):
    code = "recording_empty"
    message = "The uploaded recording is empty."


class NotAClinician(DomainError):
    code = "not_a_clinician"
    message = "Only a clinician of the patient's practice can join the care team."
