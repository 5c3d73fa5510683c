"""What a clinician reads when an analysis fails: one plain sentence per error code.

Codes are Moodline's one vocabulary (`analysis.errors.ErrorCode`); the sentences say what
happened and what to do, never a stack trace; the technical detail goes to the worker log.
"""

from __future__ import annotations

from analysis.errors import ErrorCode

CLINICIAN_MESSAGES: dict[ErrorCode, str] = {
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
    ErrorCode.TIME_LIMIT: (
        "The analysis took longer than this installation allows and was stopped. Please "
        "contact your administrator."
    ),
    ErrorCode.SERVICE_UNAVAILABLE: (
        "The analysis could not reach the database or the job queue after several tries. "
        "Please request the analysis again later."
    ),
    ErrorCode.INTERNAL_ERROR: (
        "The analysis stopped because of an unexpected error. The recording is kept; please "
        "request the analysis again or contact your administrator."
    ),
    ErrorCode.RECORDING_MISSING: (
        "The recording file could not be found in storage. Please contact your administrator."
    ),
}


def clinician_message(code: str) -> str:
    """The sentence shown for `code`; an unknown code reads as an unexpected error."""
    try:
        return CLINICIAN_MESSAGES[ErrorCode(code)]
    except (ValueError, KeyError):
        return CLINICIAN_MESSAGES[ErrorCode.INTERNAL_ERROR]
