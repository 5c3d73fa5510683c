"""Moodline's one vocabulary of error codes, and the typed errors of the analysis pipeline.

Every error Moodline reports — a recording the pipeline cannot read, a job that ran out of
time, a missing consent, a malformed API request — carries one of the `ErrorCode` values: a
stable string that a failed job stores, the API returns as `{"error": {"code": ...}}` and an
integrator branches on. They live here, at the bottom of the import graph, because both the
pipeline (which imports no Django) and the web application use them. What a person reads for
each code is kept where it is shown: `clinic.errors` (clinicians) and `clinic.api.errors`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # The recording and the models (analysis pipeline)
    NOT_MEDIA = "not_media"
    CORRUPT_MEDIA = "corrupt_media"
    NO_VIDEO_STREAM = "no_video_stream"
    NO_AUDIO_STREAM = "no_audio_stream"
    ZERO_DURATION = "zero_duration"
    UNSUPPORTED_CODEC = "unsupported_codec"
    NO_AUDIO_OR_VIDEO = "no_audio_or_video"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_CHECKSUM_MISMATCH = "model_checksum_mismatch"
    CANCELLED = "cancelled"
    # Running a job (clinic.worker)
    TIME_LIMIT = "time_limit"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"
    RECORDING_MISSING = "recording_missing"
    # Rules of the clinic (clinic.exceptions, clinic.services)
    DOMAIN_ERROR = "domain_error"
    CONSENT_REQUIRED = "consent_required"
    CONSENT_DATES_INVALID = "consent_dates_invalid"
    JOB_ALREADY_ACTIVE = "job_already_active"
    JOB_NOT_ACTIVE = "job_not_active"
    CONSENT_ALREADY_REVOKED = "consent_already_revoked"
    RECORDING_TOO_LARGE = "recording_too_large"
    RECORDING_EMPTY = "recording_empty"
    NOT_A_CLINICIAN = "not_a_clinician"
    ANNOTATION_EMPTY = "annotation_empty"
    ANNOTATION_TOO_LONG = "annotation_too_long"
    ANNOTATION_OUTSIDE_SESSION = "annotation_outside_session"
    ANNOTATION_NOT_YOURS = "annotation_not_yours"
    TWO_FACTOR_REQUIRED = "two_factor_required"
    # Integrations (clinic.services.integrations, clinic.services.webhooks)
    CLINICIAN_NOT_ON_CARE_TEAM = "clinician_not_on_care_team"
    PSEUDONYM_TAKEN = "pseudonym_taken"
    UPLOAD_OFFSET_MISMATCH = "upload_offset_mismatch"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    OUTSIDE_INTEGRATION_CARE_TEAMS = "outside_integration_care_teams"
    TOO_MANY_LIVE_KEYS = "too_many_live_keys"
    WEBHOOK_URL_REFUSED = "webhook_url_refused"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    ROLE_ASSIGNMENT_INVALID = "role_assignment_invalid"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency_key_in_flight"
    # The API's requests (clinic.api.errors)
    INVALID_REQUEST = "invalid_request"
    MALFORMED_REQUEST = "malformed_request"
    NOT_AUTHENTICATED = "not_authenticated"
    CREDENTIAL_INVALID = "credential_invalid"
    SCOPE_MISSING = "scope_missing"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_ACCEPTABLE = "not_acceptable"
    THROTTLED = "throttled"
    REQUEST_TOO_LARGE = "request_too_large"
    NO_TIMELINE = "no_timeline"
    ERROR = "error"  # a request error DRF raised that none of the above names


# The codes an analysis job can end with (clinic/errors.py has a sentence for a clinician for
# each; the others are answered to the caller that made the request).
JOB_FAILURE_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.NOT_MEDIA,
        ErrorCode.CORRUPT_MEDIA,
        ErrorCode.NO_VIDEO_STREAM,
        ErrorCode.NO_AUDIO_STREAM,
        ErrorCode.ZERO_DURATION,
        ErrorCode.UNSUPPORTED_CODEC,
        ErrorCode.MODEL_UNAVAILABLE,
        ErrorCode.MODEL_CHECKSUM_MISMATCH,
        ErrorCode.CANCELLED,
        ErrorCode.TIME_LIMIT,
        ErrorCode.SERVICE_UNAVAILABLE,
        ErrorCode.INTERNAL_ERROR,
        ErrorCode.RECORDING_MISSING,
    }
)


class AnalysisError(Exception):
    """Base class: an error caused by the input or the models, never worth a retry."""

    code: ErrorCode

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class MediaError(AnalysisError):
    """The file cannot be analysed as given (not media, broken, missing a stream)."""


class ModelError(AnalysisError):
    """A model's weights are missing or do not match their recorded checksum."""


class Cancelled(AnalysisError):
    """The caller asked the pipeline to stop; raised at the next stage boundary."""

    def __init__(self, message: str = "Analysis was cancelled.") -> None:
        super().__init__(ErrorCode.CANCELLED, message)
