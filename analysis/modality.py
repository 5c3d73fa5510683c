"""The three things Moodline reads a person by, under one name from consent to timeline.

Consent is given per modality, the pipeline analyses per modality and the timeline reports
per modality; all three use these values, which are also what Postgres stores on a consent
row and what the API speaks.
"""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    FACE = "face"  # facial expression, from the video
    VOICE = "voice"  # prosody (pitch, loudness, rate), from the audio
    TEXT = "text"  # the words spoken: transcript, sentiment and emotion

    @property
    def label(self) -> str:
        return MODALITY_LABELS[self]


MODALITY_LABELS: dict[Modality, str] = {
    Modality.FACE: "Face (facial expression in the video)",
    Modality.VOICE: "Voice (prosody in the audio)",
    Modality.TEXT: "Text (transcript of the words spoken)",
}

# The names consent used before the three were unified; the API still accepts them.
LEGACY_NAMES: dict[str, Modality] = {
    "video": Modality.FACE,
    "audio": Modality.VOICE,
    "transcript": Modality.TEXT,
}
