"""What a clinician reads when an analysis fails: one plain sentence per error code.

Codes come from the analysis pipeline (`analysis.errors.ErrorCode`) or from the orchestration
itself (the constants below). The sentences say what happened and what to do, never a stack
trace; the technical detail goes to the worker log. Tests import these constants.
"""

from __future__ import annotations

from analysis.errors import ErrorCode

# Codes the job orchestration adds to the pipeline's own.
TIME_LIMIT = "time_limit"
SERVICE_UNAVAILABLE = "service_unavailable"
INTERNAL_ERROR = "internal_error"
RECORDING_MISSING = "recording_missing"

CLINICIAN_MESSAGES: dict[str, str] = {
    ErrorCode.NOT_MEDIA: (
        "The uploaded file is not an audio or video recording. Please upload the session "
        "recording again."
    ),
    ErrorCode.CORRUPT_MEDIA: (
        "The recording is damaged or incomplete and cannot be played. It has been kept; "
        "please upload a complete copy to analyse it."
    ),
    ErrorCode.NO_VIDEO_STREAM: (
        "The recording has no picture and no usable sound for the modalities consented to, "
        "so there is nothing to analyse."
    ),
    ErrorCode.NO_AUDIO_STREAM: (
        "No face was visible and the recording has no sound for the modalities consented to, "
        "so there is nothing to analyse."
    ),
    ErrorCode.ZERO_DURATION: "The recording is empty (it lasts zero seconds).",
    ErrorCode.UNSUPPORTED_CODEC: (
        "The recording uses a format Moodline cannot read. Please export it as MP4 "
        "(H.264 video, AAC audio) and upload it again."
    ),
    ErrorCode.MODEL_UNAVAILABLE: (
        "An analysis model is not installed on the server. Please contact your administrator."
    ),
    ErrorCode.MODEL_CHECKSUM_MISMATCH: (
        "An analysis model on the server failed its integrity check. Please contact your "
        "administrator."
    ),
    ErrorCode.CANCELLED: "The analysis was cancelled.",
    TIME_LIMIT: (
        "The analysis took longer than this installation allows and was stopped. Please "
        "contact your administrator."
    ),
    SERVICE_UNAVAILABLE: (
        "The analysis could not reach the database or the job queue after several tries. "
        "Please request the analysis again later."
    ),
    INTERNAL_ERROR: (
        "The analysis stopped because of an unexpected error. The recording is kept; please "
        "request the analysis again or contact your administrator."
    ),
    RECORDING_MISSING: (
        "The recording file could not be found in storage. Please contact your administrator."
    ),
}


def clinician_message(code: str) -> str:
    """The sentence shown for `code`; an unknown code reads as an unexpected error."""
    return CLINICIAN_MESSAGES.get(code, CLINICIAN_MESSAGES[INTERNAL_ERROR])
