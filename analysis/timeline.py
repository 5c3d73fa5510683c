"""The timeline document `moodline.timeline/1`: its vocabulary, JSON Schema and validation.

The document is plain JSON (built by analysis/fusion.py) so that Django stores it as is, the
browser draws it and an EHR export maps it; the schema in analysis/schemas/ is its contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from analysis.modality import Modality

SCHEMA_ID = "moodline.timeline/1"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "timeline-1.schema.json"
NOTICE = (
    "Emotion scores are observations from face, voice and words, each with a confidence; "
    "they are not a diagnosis."
)

MODALITIES: tuple[str, ...] = tuple(m.value for m in Modality)

# Why a modality has nothing to say about a stretch of the recording.
GAP_NO_CONSENT = "no_consent"
GAP_NO_VIDEO = "no_video_stream"
GAP_NO_AUDIO = "no_audio_stream"
GAP_NO_FACE = "no_face"
GAP_NO_SPEECH = "no_speech"
GAP_NOT_SCORED = "not_scored_role"  # someone is there, but not a person whose role is scored
GAP_LOW_EVIDENCE = "low_evidence"  # a scored person is there, but the cue is too weak to report


@dataclass(frozen=True)
class Gap:
    modality: str
    reason: str
    start_s: float
    end_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "reason": self.reason,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
        }


@cache
def timeline_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def validate_timeline(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when the document breaks the schema."""
    import jsonschema

    jsonschema.validate(document, timeline_schema(), cls=jsonschema.Draft202012Validator)
