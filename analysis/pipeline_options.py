"""What one analysis run may look at and how finely: fixed per run, part of every fingerprint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.modality import Modality
from analysis.stage_outputs import Json
from analysis.text.transcribe import default_engine_name, default_model_name
from analysis.voice.speakers import CLIENT
from analysis.voice.vad import VadOptions


@dataclass(frozen=True)
class PipelineOptions:
    window_s: float = 2.0  # length of a window of the timeline's time grid, seconds
    sample_fps: float = 5.0  # video frames analysed per second
    # what the patient consented to being analysed; the others become explicit gaps
    modalities: frozenset[Modality] = frozenset(Modality)
    # engine name (analysis.text.transcribe.ENGINES); MOODLINE_TRANSCRIPT_ENGINE sets the default
    transcript_engine: str = field(default_factory=default_engine_name)
    # Whisper model (analysis.text.transcribe.TRANSCRIPT_MODELS); MOODLINE_TRANSCRIPT_MODEL sets it
    transcript_model: str = field(default_factory=default_model_name)
    face_checkpoint: Path | None = None  # temporal face head; None = the shipped one
    score_roles: tuple[str, ...] = (CLIENT,)  # only these people are scored
    # roles a clinician set: ("speaker:S1" or "face:0", "client" | "clinician")
    role_overrides: tuple[tuple[str, str], ...] = ()
    vad: VadOptions = field(default_factory=VadOptions)  # speech detection thresholds

    def allows(self, modality: Modality) -> bool:
        return modality in self.modalities

    @property
    def needs_audio(self) -> bool:
        return self.allows(Modality.VOICE) or self.allows(Modality.TEXT)

    def to_json(self) -> Json:
        return {
            "window_s": self.window_s,
            "sample_fps": self.sample_fps,
            "modalities": sorted(m.value for m in self.modalities),
            "transcript_engine": self.transcript_engine,
            "transcript_model": self.transcript_model,
            "face_checkpoint": str(self.face_checkpoint) if self.face_checkpoint else None,
            "score_roles": list(self.score_roles),
            "role_overrides": [list(pair) for pair in self.role_overrides],
            "vad": asdict(self.vad),
        }
