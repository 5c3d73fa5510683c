"""Typed, coded errors of the analysis pipeline.

Codes are stable strings that the web application stores on a failed job and maps to a
message a clinician understands; the message here is for logs and the CLI.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_MEDIA = "not_media"
    CORRUPT_MEDIA = "corrupt_media"
    NO_VIDEO_STREAM = "no_video_stream"
    NO_AUDIO_STREAM = "no_audio_stream"
    ZERO_DURATION = "zero_duration"
    UNSUPPORTED_CODEC = "unsupported_codec"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_CHECKSUM_MISMATCH = "model_checksum_mismatch"
    CANCELLED = "cancelled"


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
