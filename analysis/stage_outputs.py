"""What each pipeline stage returns: one frozen dataclass per stage, versioned, JSON both ways.

    ingest     -> IngestOutput      what the file holds, and where there is speech
    face       -> FaceOutput        face tracks: per-frame boxes and emotions, per-window summaries
    voice      -> VoiceOutput       who speaks when (speakers, pieces) and each piece's prosody
    transcript -> TranscriptOutput  utterances with word times
    text       -> TextOutput        lines split between speakers, each scored from its words
    fusion     -> TimelineOutput    the `moodline.timeline/1` document

A stage whose modality is switched off (no consent, no stream) returns None instead. Stored
outputs carry their class's `VERSION`; one of another version is not read but recomputed
(`OutputVersionError`), so changing a field means bumping the version, nothing more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, Self

import numpy as np

from analysis.labels import EMOTIONS
from analysis.text.transcribe import Utterance
from analysis.voice.prosody import ProsodyFeatures
from analysis.voice.vad import SpeechSegment

Json = dict[str, Any]  # a JSON object as `json.loads` returns it
Provenance = dict[str, str]  # a model's name, version, sha256, licence and source


class OutputVersionError(ValueError):
    """A stored output of another version (or shape) than the code reads today."""


class StageOutput(Protocol):
    VERSION: ClassVar[int]

    def to_json(self) -> Json: ...

    @classmethod
    def from_json(cls, data: Json) -> Self: ...


def _envelope(output: Any, payload: Json) -> Json:
    return {"version": type(output).VERSION, **payload}


def _check_version(cls: type[Any], data: Json) -> None:
    if not isinstance(data, dict) or data.get("version") != cls.VERSION:
        found = data.get("version") if isinstance(data, dict) else type(data).__name__
        raise OutputVersionError(f"{cls.__name__} version {found!r}, expected {cls.VERSION}")


# --- ingest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaSummary:
    file_name: str
    duration_s: float
    has_video: bool
    has_audio: bool
    audio_channels: int | None
    width: int | None
    height: int | None
    fps: float | None


@dataclass(frozen=True)
class IngestOutput:
    VERSION: ClassVar[int] = 2

    media: MediaSummary
    speech: tuple[SpeechSegment, ...] | None  # None: no audio, or no consent that needs it
    models: tuple[Provenance, ...] = ()

    def to_json(self) -> Json:
        return _envelope(
            self,
            {
                "media": asdict(self.media),
                "speech": None if self.speech is None else [s.to_dict() for s in self.speech],
                "models": list(self.models),
            },
        )

    @classmethod
    def from_json(cls, data: Json) -> Self:
        _check_version(cls, data)
        speech = data["speech"]
        return cls(
            media=MediaSummary(**data["media"]),
            speech=None if speech is None else tuple(map(SpeechSegment.from_dict, speech)),
            models=tuple(data["models"]),
        )


# --- face ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionFrame:
    t_s: float
    weight: float


@dataclass(frozen=True)
class FaceWindow:
    start_s: float
    end_s: float
    probs: dict[str, float]  # EMOTIONS -> probability
    valence: float  # in [-1, 1], from probs through the circumplex mapping (analysis.labels)
    arousal: float  # in [-1, 1], likewise
    confidence: float  # in [0, 1]: certainty x detection score x share of frames with the face
    attention: tuple[AttentionFrame, ...]  # the frames the temporal head weighed most
    # The same window read against the person's own rest (analysis.face.baseline); None when
    # the CNN carries no reference for rest.
    relative_probs: dict[str, float] | None = None
    relative_valence: float | None = None
    relative_arousal: float | None = None

    @classmethod
    def from_json(cls, data: Json) -> FaceWindow:
        fields = {k: v for k, v in data.items() if k != "attention"}
        return cls(**fields, attention=tuple(AttentionFrame(**a) for a in data["attention"]))


@dataclass(frozen=True)
class FaceBaseline:
    """A track's rest: the CNN's mean reading over its calmer frames (analysis.face.baseline)."""

    probs: dict[str, float]
    frames: int
    reliable: bool  # enough frames; otherwise fusion uses the raw reading


# A face track's per-frame columns: (name, decimals kept in JSON, numpy type, shape of one row).
# Kept as arrays, not lists of floats: an hour of one face is 18,000 sampled frames, about 2 MB
# this way against some 25 MB as Python floats, several times over while the output is saved.
FACE_FRAME_COLUMNS: tuple[tuple[str, int, type[np.floating[Any]], tuple[int, ...]], ...] = (
    ("times_s", 3, np.float64, ()),
    ("boxes", 1, np.float32, (4,)),  # x1, y1, x2, y2 in displayed pixels
    ("landmarks", 1, np.float32, (5, 2)),  # eyes (left, right), nose, mouth corners
    ("det_scores", 4, np.float32, ()),
    ("frame_probs", 4, np.float32, (len(EMOTIONS),)),  # EMOTIONS order
    ("mouth_motion", 4, np.float32, ()),  # 0..1; 0 after a gap
)


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """One face followed through the video: per sampled frame (the arrays, one row each) and
    per window."""

    track_id: int
    times_s: np.ndarray  # (n,) float64
    boxes: np.ndarray  # (n, 4) float32
    landmarks: np.ndarray  # (n, 5, 2) float32
    det_scores: np.ndarray  # (n,) float32
    frame_probs: np.ndarray  # (n, 7) float32
    mouth_motion: np.ndarray  # (n,) float32
    windows: tuple[FaceWindow, ...]
    baseline: FaceBaseline | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FaceTrack):
            return NotImplemented
        return (
            (self.track_id, self.windows, self.baseline)
            == (other.track_id, other.windows, other.baseline)
        ) and all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name, _, _, _ in FACE_FRAME_COLUMNS
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def box_at(self, t_s: float) -> tuple[float, float, float, float] | None:
        """The face's box (x1, y1, x2, y2 in displayed pixels) in the sampled frame nearest
        `t_s`; None for a track with no frames."""
        if not len(self.times_s):
            return None
        i = int(np.searchsorted(self.times_s, t_s))
        if i == len(self.times_s) or (i > 0 and t_s - self.times_s[i - 1] < self.times_s[i] - t_s):
            i -= 1
        x1, y1, x2, y2 = (round(float(v), 1) for v in self.boxes[i])
        return x1, y1, x2, y2

    def to_json(self) -> Json:
        # Rounded in float64, so a float32 0.1234 is written 0.1234, as it was computed.
        columns = {
            name: np.round(getattr(self, name).astype(np.float64), decimals).tolist()
            for name, decimals, _, _ in FACE_FRAME_COLUMNS
        }
        return {
            "track_id": self.track_id,
            **columns,
            "windows": [asdict(w) for w in self.windows],
            "baseline": asdict(self.baseline) if self.baseline is not None else None,
        }

    @classmethod
    def from_json(cls, data: Json) -> FaceTrack:
        baseline = data.get("baseline")
        columns = {
            name: np.asarray(data[name], dtype=dtype).reshape(-1, *shape)
            for name, _, dtype, shape in FACE_FRAME_COLUMNS
        }
        return cls(
            track_id=data["track_id"],
            **columns,
            windows=tuple(FaceWindow.from_json(w) for w in data["windows"]),
            baseline=FaceBaseline(**baseline) if baseline else None,
        )


@dataclass(frozen=True)
class FaceOutput:
    VERSION: ClassVar[int] = 3

    sample_fps: float
    duration_s: float
    no_face: bool  # True when no face was found: a result, not an error
    tracks: tuple[FaceTrack, ...]
    models: tuple[Provenance, ...]
    labels: tuple[str, ...] = EMOTIONS

    def to_json(self) -> Json:
        return _envelope(
            self,
            {
                "sample_fps": self.sample_fps,
                "duration_s": self.duration_s,
                "no_face": self.no_face,
                "tracks": [track.to_json() for track in self.tracks],
                "models": list(self.models),
                "labels": list(self.labels),
            },
        )

    @classmethod
    def from_json(cls, data: Json) -> Self:
        _check_version(cls, data)
        return cls(
            sample_fps=data["sample_fps"],
            duration_s=data["duration_s"],
            no_face=data["no_face"],
            tracks=tuple(FaceTrack.from_json(t) for t in data["tracks"]),
            models=tuple(data["models"]),
            labels=tuple(data["labels"]),
        )


# --- voice -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceSpeaker:
    id: str
    role: str
    role_source: str
    talk_time_s: float
    channel: int | None = None
    face_track_id: str | None = None
    link_correlation: float | None = None


@dataclass(frozen=True)
class SpokenPiece:
    start_s: float
    end_s: float
    speaker: str
    channel_db: tuple[float, ...]  # RMS level per audio channel, dBFS
    prosody: ProsodyFeatures | None  # None without consent to analyse the voice
    # the optional speech-emotion head's probabilities (MOODLINE_SPEECH_EMOTION); None when off
    emotions: dict[str, float] | None = None


@dataclass(frozen=True)
class VoiceOutput:
    VERSION: ClassVar[int] = 3  # 3: a piece's emotions from the optional speech-emotion head

    method: str  # how speakers were told apart: "channels", "clustering" or "single"
    details: dict[str, float]
    speakers: tuple[VoiceSpeaker, ...]
    prosody: bool  # whether prosody was measured (consent to the voice)
    pieces: tuple[SpokenPiece, ...]
    models: tuple[Provenance, ...] = ()

    def to_json(self) -> Json:
        return _envelope(self, asdict(self))

    @classmethod
    def from_json(cls, data: Json) -> Self:
        _check_version(cls, data)
        return cls(
            method=data["method"],
            details=data["details"],
            speakers=tuple(VoiceSpeaker(**s) for s in data["speakers"]),
            prosody=data["prosody"],
            pieces=tuple(
                SpokenPiece(
                    start_s=p["start_s"],
                    end_s=p["end_s"],
                    speaker=p["speaker"],
                    channel_db=tuple(p["channel_db"]),
                    prosody=ProsodyFeatures(**p["prosody"]) if p["prosody"] else None,
                    emotions=p.get("emotions"),
                )
                for p in data["pieces"]
            ),
            models=tuple(data["models"]),
        )


# --- transcript ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptOutput:
    # 3: utterances split at pauses of 1 s or more; 4: a word given no duration placed beside
    # its neighbour, the first word of a stretch of speech begun where the speech begins;
    # 5: text heard nowhere dropped, doubtful decodes decoded again in their parts
    VERSION: ClassVar[int] = 5

    engine: str
    model: str
    utterances: tuple[Utterance, ...]
    models: tuple[Provenance, ...] = ()

    def to_json(self) -> Json:
        return _envelope(
            self,
            {
                "engine": self.engine,
                "model": self.model,
                "utterances": [u.to_dict() for u in self.utterances],
                "models": list(self.models),
            },
        )

    @classmethod
    def from_json(cls, data: Json) -> Self:
        _check_version(cls, data)
        return cls(
            engine=data["engine"],
            model=data["model"],
            utterances=tuple(Utterance.from_dict(u) for u in data["utterances"]),
            models=tuple(data["models"]),
        )


# --- text ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextLine:
    """One transcript line — one speaker's words between pauses — and how its words read."""

    utterance: Utterance
    speaker: str | None  # the voice stage's speaker id; None where nobody was heard
    sentiment: dict[str, Any]  # VADER: compound, label, source, affect
    emotions: dict[str, float]  # the head's probabilities over EMOTIONS
    valence: float  # the reading chosen on EmoBank dev (analysis/text/valence.py)
    arousal: float


@dataclass(frozen=True)
class TextOutput:
    """Every line scored, whoever spoke it: fusion keeps the scores of the roles it scores, so
    a clinician reassigning a speaker re-runs fusion only."""

    VERSION: ClassVar[int] = 2  # 2: a line's sentiment says how much of it carries affect

    valence_source: str
    lines: tuple[TextLine, ...]
    models: tuple[Provenance, ...] = ()

    def to_json(self) -> Json:
        return _envelope(
            self,
            {
                "valence_source": self.valence_source,
                "lines": [
                    {**asdict(line), "utterance": line.utterance.to_dict()} for line in self.lines
                ],
                "models": list(self.models),
            },
        )

    @classmethod
    def from_json(cls, data: Json) -> Self:
        _check_version(cls, data)
        return cls(
            valence_source=data["valence_source"],
            lines=tuple(
                TextLine(
                    utterance=Utterance.from_dict(line["utterance"]),
                    speaker=line["speaker"],
                    sentiment=line["sentiment"],
                    emotions=line["emotions"],
                    valence=line["valence"],
                    arousal=line["arousal"],
                )
                for line in data["lines"]
            ),
            models=tuple(data["models"]),
        )


# --- fusion ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineOutput:
    """The timeline document. Its own contract is the JSON Schema `moodline.timeline/1`
    (analysis/schemas/), which the browser, the API and the FHIR export read; it is kept as
    that JSON rather than mirrored field by field here."""

    VERSION: ClassVar[int] = 1

    document: Json = field(default_factory=dict)

    def to_json(self) -> Json:
        return _envelope(self, {"document": self.document})

    @classmethod
    def from_json(cls, data: Json) -> Self:
        _check_version(cls, data)
        return cls(document=data["document"])

    @property
    def models(self) -> list[Provenance]:
        return list(self.document.get("models", []))
