"""Fusion: stage outputs onto one time grid, confidence-weighted, into the timeline document.

Per window each modality gives what it can — face: valence, arousal, emotions; voice:
arousal (prosody-derived), and emotions when the optional speech-emotion head is on; text:
valence, arousal, emotions — with a confidence. The fused value is the confidence-weighted mean
over the modalities that have one; a modality with nothing in a window drops out (it does not
count as neutral) and the window records why. For emotions the modalities' readings are pooled
logarithmically (a weighted product, renormalised: channels that agree strengthen each other,
and a flat reading barely moves a clear one), each weighted by its confidence times its
reliability, then tempered; reliabilities and temperature are fitted on labelled multimodal
recordings (`analysis/fusion_fit.py`, `fusion_reliability.json`), where this pool beat the
weighted mean it replaced.
Only people whose role is in `score_roles` are scored; everyone else stays unscored.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from analysis.labels import EMOTIONS
from analysis.moments import attention_evidence, find_moments
from analysis.stage_outputs import (
    FaceOutput,
    TextOutput,
    VoiceOutput,
    VoiceSpeaker,
)
from analysis.text.transcribe import Utterance
from analysis.timeline import (
    GAP_LOW_EVIDENCE,
    GAP_NO_FACE,
    GAP_NO_SPEECH,
    GAP_NOT_SCORED,
    MODALITIES,
    NOTICE,
    SCHEMA_ID,
    Gap,
)
from analysis.voice.arousal import AROUSAL_SOURCE, vocal_arousal
from analysis.voice.speakers import CLIENT, CLINICIAN, GUESSED, SET_BY_CLINICIAN, UNKNOWN
from analysis.voice.speech_emotion import SOURCE as SPEECH_EMOTION_SOURCE

TEXT_CONFIDENCE = 0.5  # a sentence's wording is a moderate cue to how its speaker feels
# The optional speech-emotion head: UAR 0.56 on unseen acted voices, weaker than the face
SPEECH_EMOTION_CONFIDENCE = 0.5
TEXT_AROUSAL_CONFIDENCE_SHARE = 0.5  # arousal from wording is weaker than valence (dev r 0.49)
ROUND_DIGITS = 4
T = TypeVar("T")
WINDOW_EVIDENCE_FRAMES = 3  # attended face frames kept as each window's evidence


@dataclass(frozen=True)
class FusionOptions:
    window_s: float = 2.0  # length of one window of the common time grid
    score_roles: tuple[str, ...] = (CLIENT,)  # whose face, voice and words are scored
    # roles a clinician set: ("speaker:S1" or "face:0", "client" | "clinician")
    role_overrides: tuple[tuple[str, str], ...] = ()
    # how far each modality's emotions are trusted (analysis/fusion_fit.py); None: as shipped
    reliability: Mapping[str, float] | None = None
    temperature: float | None = None  # of the fused emotions; None: as shipped
    pool: str | None = None  # how emotions are pooled (POOLS); None: as shipped


@dataclass
class _Cue:
    """One modality's observation over a time span."""

    start_s: float
    end_s: float
    confidence: float
    valence: float | None = None
    arousal: float | None = None
    emotions: np.ndarray | None = None  # (7,) over EMOTIONS
    arousal_confidence: float | None = None  # when arousal is less certain than valence
    # When its emotions are less certain than its valence: words weigh in fusion's emotions only
    # as far as they carry affect (a plain sentence still says its valence is near neutral).
    emotions_confidence: float | None = None
    # face only: the frames the temporal head attended to (analysis.moments.attention_evidence)
    frames: tuple[dict[str, Any], ...] = ()


class _SpanIndex(Generic[T]):
    """Items with a time span, found by the window they overlap, in the order they were given:
    each window reads only its own cues, not the whole session's (a 4-hour session has some
    7,000 windows and as many face cues)."""

    def __init__(self, items: Sequence[T], span: Callable[[T], tuple[float, float]]) -> None:
        self._items, self._span = items, span
        self._order = sorted(range(len(items)), key=lambda i: span(items[i])[0])
        self._starts = [span(items[i])[0] for i in self._order]
        self._longest = max((end - start for start, end in map(span, items)), default=0.0)

    def overlapping(self, start_s: float, end_s: float) -> list[T]:
        lo = bisect.bisect_left(self._starts, start_s - self._longest)
        hi = bisect.bisect_left(self._starts, end_s)
        chosen = sorted(i for i in self._order[lo:hi] if self._span(self._items[i])[1] > start_s)
        return [self._items[i] for i in chosen]


def _cue_span(cue: _Cue) -> tuple[float, float]:
    return cue.start_s, cue.end_s


@dataclass
class _Modality:
    cues: list[_Cue] = field(default_factory=list)
    # spans where someone speaks or is seen, and whether that person is scored
    present: list[tuple[float, float, bool]] = field(default_factory=list)
    reason_when_empty: str = GAP_NO_SPEECH
    session_gap: bool = False  # the whole session lacks this modality (consent, stream, face)
    source: str = ""
    # The face read as the CNN reads any face, where `cues` are read against the person's rest
    raw_cues: list[_Cue] = field(default_factory=list)

    # Made on first use, once every cue is in.
    @cached_property
    def cues_by_time(self) -> _SpanIndex[_Cue]:
        return _SpanIndex(self.cues, _cue_span)

    @cached_property
    def raw_cues_by_time(self) -> _SpanIndex[_Cue]:
        return _SpanIndex(self.raw_cues, _cue_span)

    @cached_property
    def present_by_time(self) -> _SpanIndex[tuple[float, float, bool]]:
        return _SpanIndex(self.present, lambda p: (p[0], p[1]))


RELIABILITY_PATH = Path(__file__).with_name("fusion_reliability.json")


@cache
def _shipped_fit() -> dict[str, Any]:
    return dict(json.loads(RELIABILITY_PATH.read_text())) if RELIABILITY_PATH.is_file() else {}


def shipped_reliability() -> dict[str, float]:
    """Each modality's fitted reliability for emotions; every one 1.0 when none was fitted."""
    return {k: float(v) for k, v in _shipped_fit().get("reliability", {}).items()}


def shipped_temperature() -> float:
    """The temperature of fused emotions fitted beside the reliabilities; 1.0 when none was."""
    return float(_shipped_fit().get("temperature", 1.0))


# How the modalities' emotions are combined: a weighted product (logarithmic opinion pool), or
# a weighted mean (linear pool: what fusion did before, kept for comparison).
LOGARITHMIC, LINEAR = "logarithmic", "linear"
POOLS = (LOGARITHMIC, LINEAR)
PROBABILITY_FLOOR = 1e-4  # no reading rules an emotion out entirely
NEUTRAL = EMOTIONS.index("neutral")
# Words that carry no emotion say little of how their speaker feels (absence of evidence, not
# evidence of calm): in the logarithmic pool their weight shrinks with their neutral reading.
# On the labelled recordings this kept flat sentences from outvoting a clear face.
WEIGHED_BY_EMOTIONAL_CONTENT = frozenset({"text"})


def shipped_pool() -> str:
    """The pool the shipped reliabilities were fitted for (linear for a fit that names none)."""
    return str(_shipped_fit().get("pool", LINEAR))


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), ROUND_DIGITS)


def _emotion_dict(probs: np.ndarray | None) -> dict[str, float] | None:
    if probs is None:
        return None
    total = float(probs.sum())
    normalised = probs / total if total > 0 else probs
    return {
        label: round(float(p), ROUND_DIGITS) for label, p in zip(EMOTIONS, normalised, strict=True)
    }


def _covered(weighted_confidence: float, coverage: float) -> float:
    """The mean confidence of what was seen, scaled by how much of the window it covers."""
    return float(min(1.0, weighted_confidence / coverage) * min(1.0, coverage))


def _summarise(cues: Sequence[_Cue], start_s: float, end_s: float) -> dict[str, Any] | None:
    """Weighted mean of the cues overlapping a window: weight = confidence x overlap share."""
    span = end_s - start_s
    sums: dict[str, float] = {"valence": 0.0, "arousal": 0.0, "w_valence": 0.0, "w_arousal": 0.0}
    emotions = np.zeros(len(EMOTIONS))
    w_emotions = 0.0
    coverage = 0.0
    confidence = 0.0
    emotions_confidence = 0.0
    for cue in cues:
        share = _overlap(cue.start_s, cue.end_s, start_s, end_s) / span
        if share <= 0:
            continue
        weight = cue.confidence * share
        coverage += share
        confidence += weight
        if cue.valence is not None:
            sums["valence"] += weight * cue.valence
            sums["w_valence"] += weight
        if cue.arousal is not None:
            a_weight = share * (cue.arousal_confidence or cue.confidence)
            sums["arousal"] += a_weight * cue.arousal
            sums["w_arousal"] += a_weight
        if cue.emotions is not None:
            emotions += weight * cue.emotions
            w_emotions += weight
            e_confidence = (
                cue.confidence if cue.emotions_confidence is None else cue.emotions_confidence
            )
            emotions_confidence += share * e_confidence
    if coverage <= 0 or confidence <= 0:
        return None
    return {
        "valence": sums["valence"] / sums["w_valence"] if sums["w_valence"] > 0 else None,
        "arousal": sums["arousal"] / sums["w_arousal"] if sums["w_arousal"] > 0 else None,
        "emotions": emotions / w_emotions if w_emotions > 0 else None,
        "confidence": _covered(confidence, coverage),
        # the same for what its emotions are weighed by in fusion
        "emotions_confidence": _covered(emotions_confidence, coverage),
        # how strongly this modality speaks to each dimension, relative to its cues' confidence
        "k_valence": sums["w_valence"] / confidence,
        "k_arousal": sums["w_arousal"] / confidence,
    }


def fuse_emotions(
    readings: Mapping[str, tuple[np.ndarray | None, float]],
    reliability: Mapping[str, float],
    temperature: float = 1.0,
    pool: str = LOGARITHMIC,
) -> np.ndarray | None:
    """The window's emotions: each modality's (7,) reading weighted by its confidence in this
    window times how reliable the modality proved on labelled recordings (1 when not fitted),
    pooled (`pool`), then tempered so that their confidence matches how often they were right
    there."""
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; choose from {list(POOLS)}")
    weights = {
        name: confidence * reliability.get(name, 1.0)
        for name, (probs, confidence) in readings.items()
        if probs is not None
    }
    total = sum(weights.values())
    if total <= 0:
        return None
    probs = {name: np.asarray(readings[name][0], dtype=np.float64) for name in weights}
    fused: np.ndarray
    if pool == LOGARITHMIC:
        log_fused = np.zeros(len(EMOTIONS))
        for name, weight in weights.items():
            if name in WEIGHED_BY_EMOTIONAL_CONTENT:
                weight *= 1.0 - float(probs[name][NEUTRAL])
            log_fused += weight * np.log(np.clip(probs[name], PROBABILITY_FLOOR, 1.0))
        log_fused /= temperature
        fused = np.exp(log_fused - log_fused.max())
        fused /= fused.sum()
        return fused
    fused = np.zeros(len(EMOTIONS))
    for name, weight in weights.items():
        fused += weight * probs[name]
    fused /= total
    if temperature != 1.0:
        fused = np.clip(fused, 1e-12, 1.0) ** (1 / temperature)
        fused /= fused.sum()
    return fused


def _fuse_window(
    modalities: Mapping[str, _Modality],
    start_s: float,
    end_s: float,
    reliability: Mapping[str, float],
    temperature: float,
    pool: str,
) -> dict[str, Any]:
    parts: dict[str, dict[str, Any]] = {}
    gaps: list[dict[str, str]] = []
    for name in MODALITIES:
        modality = modalities[name]
        cues = modality.cues_by_time.overlapping(start_s, end_s)
        summary = _summarise(cues, start_s, end_s)
        if summary is None:
            present = modality.present_by_time.overlapping(start_s, end_s)
            there = [s for a, b, s in present if _overlap(a, b, start_s, end_s) > 0]
            if modality.session_gap:
                reason = modality.reason_when_empty
            elif any(there):
                reason = GAP_LOW_EVIDENCE
            elif there:
                reason = GAP_NOT_SCORED
            else:
                reason = modality.reason_when_empty
            gaps.append({"modality": name, "reason": reason})
            continue
        parts[name] = summary
        parts[name]["source"] = modality.source
        if frames := _attended_frames(cues, start_s, end_s):
            parts[name]["frames"] = frames
        raw_cues = modality.raw_cues_by_time.overlapping(start_s, end_s)
        raw = _summarise(raw_cues, start_s, end_s) if raw_cues else None
        if raw is not None:
            parts[name]["raw"] = {
                "valence": _round(raw["valence"]),
                "arousal": _round(raw["arousal"]),
                "emotions": _emotion_dict(raw["emotions"]),
            }

    def fused(key: str) -> float | None:
        present = [p for p in parts.values() if p[key] is not None]
        total = sum(p["confidence"] * p[f"k_{key}"] for p in present)
        if total <= 0:
            return None
        return float(sum(p["confidence"] * p[f"k_{key}"] * p[key] for p in present) / total)

    emotions = fuse_emotions(
        {name: (p["emotions"], p["emotions_confidence"]) for name, p in parts.items()},
        reliability,
        temperature,
        pool,
    )
    # Independent cues: the window is as certain as "not all of them are wrong".
    confidence = 1.0 - math.prod(1.0 - p["confidence"] for p in parts.values())
    weight_total = sum(p["confidence"] for p in parts.values()) or 1.0
    emotion_values = _emotion_dict(emotions)
    return {
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "valence": _round(fused("valence")),
        "arousal": _round(fused("arousal")),
        "emotions": emotion_values,
        "dominant": max(emotion_values, key=emotion_values.__getitem__) if emotion_values else None,
        "confidence": round(confidence, ROUND_DIGITS),
        "modalities": {
            name: {
                "valence": _round(p["valence"]),
                "arousal": _round(p["arousal"]),
                "emotions": _emotion_dict(p["emotions"]),
                "confidence": round(p["confidence"], ROUND_DIGITS),
                "weight": round(p["confidence"] / weight_total, ROUND_DIGITS),
                "emotions_confidence": round(p["emotions_confidence"], ROUND_DIGITS),
                "source": p["source"],
                **({"raw": p["raw"]} if "raw" in p else {}),
                **({"frames": p["frames"]} if "frames" in p else {}),
            }
            for name, p in parts.items()
        },
        "gaps": gaps,
    }


def _attended_frames(cues: Sequence[_Cue], start_s: float, end_s: float) -> list[dict[str, Any]]:
    """The frames inside the window that the face model attended to most, most first."""
    inside = [f for cue in cues for f in cue.frames if start_s <= f["t_s"] < end_s]
    return sorted(inside, key=lambda f: -f["weight"])[:WINDOW_EVIDENCE_FRAMES]


# --- roles -----------------------------------------------------------------------------------


def _apply_roles(
    speakers: list[dict[str, Any]], tracks: list[dict[str, Any]], overrides: Mapping[str, str]
) -> None:
    """Clinician-set roles win; face tracks take their linked speaker's role, else a guess."""
    for speaker in speakers:
        if (role := overrides.get(f"speaker:{speaker['id']}")) is not None:
            speaker["role"], speaker["role_source"] = role, SET_BY_CLINICIAN
    if any(s["role_source"] == SET_BY_CLINICIAN and s["role"] == CLIENT for s in speakers):
        for speaker in speakers:
            if speaker["role_source"] == GUESSED and speaker["role"] == CLIENT:
                speaker["role"] = CLINICIAN
    by_track = {s.get("face_track_id"): s for s in speakers if s.get("face_track_id") is not None}
    for track in tracks:
        linked = by_track.get(track["id"])
        track["speaker_id"] = linked["id"] if linked else None
        track["role"] = linked["role"] if linked else UNKNOWN
        track["role_source"] = GUESSED
    unlinked = [t for t in tracks if t["speaker_id"] is None]
    if unlinked and not any(t["role"] == CLIENT for t in tracks):
        # The camera of a session recording usually frames the client: the face seen longest.
        max(unlinked, key=lambda t: t["frames"])["role"] = CLIENT
    for track in tracks:
        if (role := overrides.get(f"face:{track['id']}")) is not None:
            track["role"], track["role_source"] = role, SET_BY_CLINICIAN


# --- inputs of each modality -----------------------------------------------------------------


def _face_modality(
    face: FaceOutput | None, tracks: list[dict[str, Any]], scored: set[str], reason: str
) -> _Modality:
    modality = _Modality(reason_when_empty=reason, source="face expression (CNN-LSTM)")
    if face is None:
        return modality
    roles = {t["id"]: t["role"] for t in tracks}
    for track in face.tracks:
        times = track.times_s
        is_scored = roles.get(str(track.track_id)) in scored
        if len(times):
            modality.present.append((float(times[0]), float(times[-1]), is_scored))
        if not is_scored:
            continue
        against_rest = track.baseline is not None and track.baseline.reliable
        for window in track.windows:
            raw = _Cue(
                start_s=window.start_s,
                end_s=window.end_s,
                confidence=float(window.confidence),
                valence=float(window.valence),
                arousal=float(window.arousal),
                emotions=np.array([window.probs[label] for label in EMOTIONS]),
                frames=tuple(attention_evidence(track, a) for a in window.attention),
            )
            if against_rest and window.relative_probs is not None:
                modality.raw_cues.append(raw)
                raw = replace(
                    raw,
                    valence=window.relative_valence,
                    arousal=window.relative_arousal,
                    emotions=np.array([window.relative_probs[label] for label in EMOTIONS]),
                )
            modality.cues.append(raw)
    return modality


def _voice_emotions(probs: Mapping[str, float]) -> dict[str, Any]:
    """The speech-emotion head's reading of a piece, with the confidence fusion weighs it by."""
    top = max(probs.values())
    return {
        "probs": dict(probs),
        "confidence": round(SPEECH_EMOTION_CONFIDENCE * top, ROUND_DIGITS),
        "source": SPEECH_EMOTION_SOURCE,
    }


def _speech_rate(utterances: Sequence[Utterance], start_s: float, end_s: float) -> float | None:
    words = [w for u in utterances for w in u.words if start_s <= (w.start_s + w.end_s) / 2 < end_s]
    duration = end_s - start_s
    return len(words) / duration if words and duration > 0 else None


def _voice_segments(
    voice: VoiceOutput, utterances: Sequence[Utterance], scored_speakers: set[str]
) -> list[dict[str, Any]]:
    """Arousal of each scored speaker's pieces, against their own baseline where they have one
    (analysis/voice/arousal.py)."""
    segments: list[dict[str, Any]] = []
    loudness = [p.prosody.intensity_db for p in voice.pieces if p.prosody is not None]
    for speaker_id in sorted(scored_speakers):
        pieces = [p for p in voice.pieces if p.speaker == speaker_id and p.prosody is not None]
        features = [p.prosody for p in pieces if p.prosody is not None]
        rates = [_speech_rate(utterances, p.start_s, p.end_s) for p in pieces]
        estimates = vocal_arousal(features, rates, recording_intensities_db=loudness)
        for piece, prosody, rate, estimate in zip(pieces, features, rates, estimates, strict=True):
            segments.append(
                {
                    "start_s": piece.start_s,
                    "end_s": piece.end_s,
                    "speaker": speaker_id,
                    "prosody": {**prosody.to_dict(), "speech_rate_wps": _round(rate)},
                    "arousal": None
                    if estimate is None
                    else {
                        "value": estimate.arousal,
                        "confidence": estimate.confidence,
                        "source": AROUSAL_SOURCE,
                        "interval": list(estimate.interval),
                        "reference": estimate.reference,
                        "z_scores": estimate.z_scores,
                    },
                    **({"emotions": _voice_emotions(piece.emotions)} if piece.emotions else {}),
                }
            )
    return sorted(segments, key=lambda s: s["start_s"])


def _transcript_entries(
    text: TextOutput, roles: Mapping[str, str], scored: set[str]
) -> list[dict[str, Any]]:
    """The timeline's transcript: every line, with its scores where its speaker's role is
    scored (the text stage scored them all)."""
    entries: list[dict[str, Any]] = []
    for line in text.lines:
        role = roles.get(line.speaker, UNKNOWN) if line.speaker else UNKNOWN
        counted = role in scored
        entries.append(
            {
                "start_s": round(line.utterance.start_s, 3),
                "end_s": round(line.utterance.end_s, 3),
                "text": line.utterance.text,
                "speaker": line.speaker,
                "role": role,
                "scored": counted,
                "sentiment": line.sentiment if counted else None,
                "emotions": line.emotions if counted else None,
                "valence": line.valence if counted else None,
                "arousal": line.arousal if counted else None,
                "words": line.utterance.to_dict()["words"],
            }
        )
    return entries


# --- the document ----------------------------------------------------------------------------


def build_timeline(
    *,
    duration_s: float,
    source: Mapping[str, Any],
    options: FusionOptions,
    face: FaceOutput | None,
    voice: VoiceOutput | None,
    text: TextOutput | None,
    session_gaps: Sequence[Gap],
    models: Sequence[Mapping[str, str]],
    extra_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `moodline.timeline/1` document from the stage outputs (None = stage not run)."""
    overrides = dict(options.role_overrides)
    scored = set(options.score_roles)
    speakers = [_speaker_entry(s) for s in (voice.speakers if voice else ())]
    tracks = [
        {
            "id": str(t.track_id),
            "start_s": float(t.times_s[0]) if len(t.times_s) else 0.0,
            "end_s": float(t.times_s[-1]) if len(t.times_s) else 0.0,
            "frames": len(t.times_s),
            **({"baseline": asdict(t.baseline)} if t.baseline is not None else {}),
        }
        for t in (face.tracks if face else ())
    ]
    _apply_roles(speakers, tracks, overrides)
    roles = {s["id"]: s["role"] for s in speakers}
    scored_speakers = {s["id"] for s in speakers if s["role"] in scored}
    pieces = voice.pieces if voice else ()
    utterances = [line.utterance for line in text.lines] if text else []

    gap_reason = {g.modality: g.reason for g in session_gaps}
    face_modality = _face_modality(face, tracks, scored, gap_reason.get("face", GAP_NO_FACE))

    voice_segments = (
        _voice_segments(voice, utterances, scored_speakers)
        if voice is not None and voice.prosody
        else []
    )
    voice_modality = _Modality(
        reason_when_empty=gap_reason.get("voice", GAP_NO_SPEECH), source=AROUSAL_SOURCE
    )
    voice_modality.present = [(p.start_s, p.end_s, p.speaker in scored_speakers) for p in pieces]
    for segment in voice_segments:
        arousal, feeling = segment["arousal"], segment.get("emotions")
        if feeling is not None:  # the optional speech-emotion head was on
            voice_modality.cues.append(
                _Cue(
                    segment["start_s"],
                    segment["end_s"],
                    confidence=feeling["confidence"],
                    emotions=np.array([feeling["probs"][label] for label in EMOTIONS]),
                    arousal=arousal["value"] if arousal else None,
                    arousal_confidence=arousal["confidence"] if arousal else None,
                )
            )
        elif arousal is not None:
            voice_modality.cues.append(
                _Cue(
                    segment["start_s"],
                    segment["end_s"],
                    confidence=arousal["confidence"],
                    arousal=arousal["value"],
                )
            )

    entries = _transcript_entries(text, roles, scored) if text else []
    text_modality = _Modality(
        reason_when_empty=gap_reason.get("text", GAP_NO_SPEECH),
        source=f"transcript (valence: {text.valence_source})" if text else "transcript",
    )
    text_modality.present = [(e["start_s"], e["end_s"], e["scored"]) for e in entries]
    for entry in entries:
        if entry["scored"] and entry["emotions"] is not None:
            text_modality.cues.append(
                _Cue(
                    entry["start_s"],
                    entry["end_s"],
                    confidence=TEXT_CONFIDENCE,
                    valence=entry["valence"],
                    arousal=entry["arousal"],
                    emotions=np.array([entry["emotions"][label] for label in EMOTIONS]),
                    arousal_confidence=TEXT_CONFIDENCE * TEXT_AROUSAL_CONFIDENCE_SHARE,
                    emotions_confidence=TEXT_CONFIDENCE * entry["sentiment"]["affect"],
                )
            )

    modalities = {"face": face_modality, "voice": voice_modality, "text": text_modality}
    for name, modality in modalities.items():
        modality.session_gap = name in gap_reason
    n_windows = max(1, math.ceil(duration_s / options.window_s - 1e-9))
    windows = [
        _fuse_window(
            modalities,
            i * options.window_s,
            min(duration_s, (i + 1) * options.window_s),
            options.reliability if options.reliability is not None else shipped_reliability(),
            options.temperature if options.temperature is not None else shipped_temperature(),
            options.pool if options.pool is not None else shipped_pool(),
        )
        for i in range(n_windows)
    ]
    moments = find_moments(
        windows,
        face=face,
        transcript=entries,
        scored_tracks={str(t["id"]) for t in tracks if t["role"] in scored},
    )
    return {
        "schema": SCHEMA_ID,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "notice": NOTICE,
        "duration_s": round(duration_s, 3),
        "window_s": options.window_s,
        "source": dict(source),
        "options": {
            "score_roles": list(options.score_roles),
            "role_overrides": dict(options.role_overrides),
            **(extra_options or {}),
        },
        "windows": windows,
        "transcript": entries,
        "face_tracks": tracks,
        "speakers": speakers,
        "voice_segments": voice_segments,
        "moments": moments,
        "gaps": [g.to_dict() for g in session_gaps],
        "models": _unique_models(models),
    }


def _speaker_entry(speaker: VoiceSpeaker) -> dict[str, Any]:
    """A speaker as the timeline lists it (channel and face link only when known)."""
    entry: dict[str, Any] = {
        "id": speaker.id,
        "role": speaker.role,
        "role_source": speaker.role_source,
        "talk_time_s": speaker.talk_time_s,
    }
    if speaker.channel is not None:
        entry["channel"] = speaker.channel
    if speaker.face_track_id is not None:
        entry["face_track_id"] = speaker.face_track_id
        entry["link_correlation"] = speaker.link_correlation
    return entry


def _unique_models(models: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for model in models:
        seen.setdefault(model["name"], dict(model))
    return list(seen.values())
