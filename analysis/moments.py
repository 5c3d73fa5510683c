"""Key moments of a session: peaks and sustained shifts of fused valence and arousal.

A peak is a window whose value stands out from the session's own typical level (median) by
more than `peak_min_deviation` and `peak_min_mads` robust deviations, and is the most extreme
within its neighbourhood. A shift is a point where the mean of the next `SHIFT_SPAN_WINDOWS`
windows differs from the mean of the previous ones by at least `shift_min_delta`
(`MomentThresholds`, calibrated on labelled recordings: analysis/moment_fit.py). Each moment
carries its evidence: the scored face frames the temporal head attended to and the words said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from analysis.stage_outputs import AttentionFrame, FaceOutput, FaceTrack

DIMENSIONS = ("valence", "arousal")
PEAK_NEIGHBOURHOOD_WINDOWS = 5  # a peak is the extreme within +-this many windows
SHIFT_SPAN_WINDOWS = 5
SHIFT_MIN_VALID_WINDOWS = 3  # on each side


@dataclass(frozen=True)
class MomentThresholds:
    """How far a value must stand out to be a moment (on the -1..1 scale). Chosen for F1 on
    labelled recordings (`python -m analysis evaluate moments`; docs/evaluation.md): against
    0.25, 3 and 0.3 before, false alarms fell from 2.7 to 0.8 a minute there."""

    peak_min_deviation: float = 0.15  # from the session's median
    peak_min_mads: float = 6.0  # and this many of its robust deviations
    shift_min_delta: float = 0.4  # between the means of the windows either side


MIN_WINDOW_CONFIDENCE = 0.2  # less certain windows are ignored when looking for moments
MAX_EVIDENCE_FRAMES = 5
MAX_EVIDENCE_WORDS = 30


def _series(windows: Sequence[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array(
        [
            w[key] if w[key] is not None and w["confidence"] >= MIN_WINDOW_CONFIDENCE else np.nan
            for w in windows
        ],
        dtype=float,
    )


def _peaks(values: np.ndarray, thresholds: MomentThresholds) -> list[tuple[int, float]]:
    valid = values[~np.isnan(values)]
    if len(valid) < 3:
        return []
    median = float(np.median(valid))
    mad = float(np.median(np.abs(valid - median))) or 1e-6
    found = []
    for i, value in enumerate(values):
        if np.isnan(value):
            continue
        deviation = value - median
        if abs(deviation) < max(thresholds.peak_min_deviation, thresholds.peak_min_mads * mad):
            continue
        lo, hi = max(0, i - PEAK_NEIGHBOURHOOD_WINDOWS), i + PEAK_NEIGHBOURHOOD_WINDOWS + 1
        neighbourhood = np.abs(values[lo:hi] - median)
        if abs(deviation) >= np.nanmax(neighbourhood):
            found.append((i, deviation))
    return found


def _shifts(values: np.ndarray, thresholds: MomentThresholds) -> list[tuple[int, float]]:
    deltas = np.full(len(values), np.nan)
    for i in range(1, len(values)):
        before = values[max(0, i - SHIFT_SPAN_WINDOWS) : i]
        after = values[i : i + SHIFT_SPAN_WINDOWS]
        before, after = before[~np.isnan(before)], after[~np.isnan(after)]
        if min(len(before), len(after)) >= SHIFT_MIN_VALID_WINDOWS:
            deltas[i] = after.mean() - before.mean()
    found = []
    for i, delta in enumerate(deltas):
        if np.isnan(delta) or abs(delta) < thresholds.shift_min_delta:
            continue
        lo, hi = max(0, i - SHIFT_SPAN_WINDOWS), i + SHIFT_SPAN_WINDOWS + 1
        if abs(delta) >= np.nanmax(np.abs(deltas[lo:hi])):
            found.append((i, float(delta)))
    return found


def attention_evidence(track: FaceTrack, frame: AttentionFrame) -> dict[str, Any]:
    """One frame the face model attended to, as evidence: when, how much, and where the face
    was in it (its box, so that a thumbnail can show the face rather than the room)."""
    evidence: dict[str, Any] = {
        "track_id": str(track.track_id),
        "t_s": frame.t_s,
        "weight": frame.weight,
    }
    if (box := track.box_at(frame.t_s)) is not None:
        evidence["box"] = list(box)
    return evidence


def _evidence(
    start_s: float,
    end_s: float,
    windows: Sequence[Mapping[str, Any]],
    face: FaceOutput | None,
    transcript: Sequence[Mapping[str, Any]],
    scored_tracks: set[str],
) -> dict[str, Any]:
    frames: list[dict[str, Any]] = []
    for track in face.tracks if face else ():
        if str(track.track_id) not in scored_tracks:
            continue
        for face_window in track.windows:
            if face_window.end_s > start_s and face_window.start_s < end_s:
                frames.extend(attention_evidence(track, a) for a in face_window.attention)
    frames.sort(key=lambda f: -f["weight"])
    words = [
        {"t_s": w["start_s"], "text": w["text"], "speaker": entry["speaker"]}
        for entry in transcript
        if entry["scored"]
        for w in entry["words"]
        if start_s <= w["start_s"] < end_s
    ]
    shares: dict[str, float] = {}
    inside = [w for w in windows if w["start_s"] >= start_s and w["end_s"] <= end_s]
    for window in inside:
        for name, part in window["modalities"].items():
            shares[name] = shares.get(name, 0.0) + part["weight"] / len(inside)
    return {
        "frames": frames[:MAX_EVIDENCE_FRAMES],
        "words": words[:MAX_EVIDENCE_WORDS],
        "modalities": {k: round(v, 3) for k, v in shares.items()},
    }


def find_moments(
    windows: Sequence[Mapping[str, Any]],
    *,
    face: FaceOutput | None,
    transcript: Sequence[Mapping[str, Any]],
    scored_tracks: set[str],
    thresholds: MomentThresholds = MomentThresholds(),
) -> list[dict[str, Any]]:
    moments: list[dict[str, Any]] = []
    for dimension in DIMENSIONS:
        values = _series(windows, dimension)
        for i, deviation in _peaks(values, thresholds):
            window = windows[i]
            moments.append(
                {
                    "kind": "peak",
                    "dimension": dimension,
                    "t_s": round((window["start_s"] + window["end_s"]) / 2, 3),
                    "start_s": window["start_s"],
                    "end_s": window["end_s"],
                    "value": round(float(values[i]), 4),
                    "delta": round(deviation, 4),
                    "confidence": window["confidence"],
                    "evidence": _evidence(
                        window["start_s"], window["end_s"], windows, face, transcript, scored_tracks
                    ),
                }
            )
        for i, delta in _shifts(values, thresholds):
            lo = max(0, i - SHIFT_SPAN_WINDOWS)
            hi = min(len(windows), i + SHIFT_SPAN_WINDOWS) - 1
            start_s, end_s = windows[lo]["start_s"], windows[hi]["end_s"]
            after = values[i : i + SHIFT_SPAN_WINDOWS]
            moments.append(
                {
                    "kind": "shift",
                    "dimension": dimension,
                    "t_s": windows[i]["start_s"],
                    "start_s": start_s,
                    "end_s": end_s,
                    "value": round(float(np.nanmean(after)), 4),
                    "delta": round(delta, 4),
                    "confidence": round(
                        float(np.mean([w["confidence"] for w in windows[lo : hi + 1]])), 4
                    ),
                    "evidence": _evidence(
                        windows[max(0, i - 1)]["start_s"],
                        windows[min(len(windows) - 1, i + 1)]["end_s"],
                        windows,
                        face,
                        transcript,
                        scored_tracks,
                    ),
                }
            )
    return sorted(moments, key=lambda m: m["t_s"])
