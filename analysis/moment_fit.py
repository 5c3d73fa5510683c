"""Calibrate key-moment thresholds on labelled recordings: `python -m analysis evaluate moments`.

The recordings are made as the fusion dev set is (analysis/fusion_fit.py: a FER+ `valid` face
of an emotion shown while a RAVDESS actor says a sentence acted with it, and the words either
RAVDESS's own or a GoEmotions `dev` sentence of that emotion), four seconds a segment, but 48 s
long and of three kinds, in turn:

- steady: one emotion throughout (the face and the sentence change every 4 s, the emotion does
  not): nothing happens, so every moment found is a false alarm;
- turning: 24 s of one emotion, then 24 s of another;
- burst: neutral, then 8 s of another emotion at 20-28 s, then neutral again.

Where the emotions' places on the circumplex (analysis.labels) differ by at least
`EVENT_MIN_CHANGE` in valence or arousal, that dimension has an event there; a change under
`NO_CHANGE` is none, and one in between is left unscored. A moment in a dimension within
`TOLERANCE_S` of an event of that dimension finds it, peak or shift alike (either takes the
clinician to it); any other moment is a false alarm. Each threshold set on the grid is read
for its recall of events, its precision and F1, and false alarms per minute; the set with the
best F1 is chosen. The figures of the choice are cross-validated by recording (chosen on three
quarters, read on the rest), beside the thresholds in use and those set by hand before them,
in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.fusion_fit import SEGMENT_S, Recording, build_recordings, channel_windows, write_video
from analysis.labels import EMOTION_VALENCE_AROUSAL, EMOTIONS
from analysis.moments import DIMENSIONS, MomentThresholds, find_moments

SEGMENTS = 12  # 48 s a recording
KINDS = ("steady", "turning", "burst")
BURST_SEGMENTS = (5, 6)  # 20-28 s
EVENT_MIN_CHANGE = 0.5
NO_CHANGE = 0.2
TOLERANCE_S = 4.0
FOLDS = 4
HAND_SET = MomentThresholds(peak_min_deviation=0.25, peak_min_mads=3.0, shift_min_delta=0.3)
HAND_SET = MomentThresholds(peak_min_deviation=0.25, peak_min_mads=3.0, shift_min_delta=0.3)
GRID = {
    "peak_min_deviation": (0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
    "peak_min_mads": (2.0, 3.0, 4.0, 6.0),
    "shift_min_delta": (0.15, 0.2, 0.25, 0.3, 0.4, 0.5),
}


@dataclass(frozen=True)
class Event:
    dimension: str
    start_s: float
    end_s: float
    scored: bool  # False: a change too small to demand a moment and too large to forbid one


def plan(kind: str, rng: np.random.Generator) -> list[int]:
    """Each segment's emotion for a recording of `kind`."""
    neutral = EMOTIONS.index("neutral")
    if kind == "steady":
        return [int(rng.integers(len(EMOTIONS)))] * SEGMENTS
    if kind == "turning":
        pairs = [(a, b) for a, b in itertools.permutations(range(len(EMOTIONS)), 2)]
        first, then = pairs[int(rng.integers(len(pairs)))]
        return [first] * (SEGMENTS // 2) + [then] * (SEGMENTS // 2)
    burst = int(rng.choice([k for k in range(len(EMOTIONS)) if k != neutral]))
    return [burst if k in BURST_SEGMENTS else neutral for k in range(SEGMENTS)]


def events(labels: Sequence[int]) -> list[Event]:
    """Where the emotion changes, one event per dimension that moved (the span it held)."""
    found = []
    changes = [k for k in range(1, len(labels)) if labels[k] != labels[k - 1]]
    for k in changes:
        before = EMOTION_VALENCE_AROUSAL[EMOTIONS[labels[k - 1]]]
        after = EMOTION_VALENCE_AROUSAL[EMOTIONS[labels[k]]]
        for d, dimension in enumerate(DIMENSIONS):
            change = abs(after[d] - before[d])
            if change >= NO_CHANGE:
                t_s = k * SEGMENT_S
                found.append(Event(dimension, t_s, t_s, scored=change >= EVENT_MIN_CHANGE))
    return _bursts_as_one(found)


def _bursts_as_one(found: list[Event]) -> list[Event]:
    """A burst's rise and fall, in the same dimension, are one event spanning the burst."""
    merged: list[Event] = []
    for event in sorted(found, key=lambda e: (e.dimension, e.start_s)):
        last = merged[-1] if merged else None
        if last and last.dimension == event.dimension and event.start_s - last.end_s <= 8.0:
            merged[-1] = Event(
                event.dimension, last.start_s, event.end_s, last.scored or event.scored
            )
        else:
            merged.append(event)
    return merged


@dataclass(frozen=True)
class Tally:
    events: int = 0
    found: int = 0  # events found
    moments: int = 0  # moments reported
    false_alarms: int = 0  # moments near no event
    minutes: float = 0.0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            *(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True))
        )

    def figures(self) -> dict[str, float]:
        recall = self.found / self.events if self.events else 0.0
        judged = self.moments
        precision = (judged - self.false_alarms) / judged if judged else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "recall": round(recall, 3),
            "precision": round(precision, 3),
            "f1": round(f1, 3),
            "false_alarms_per_minute": round(self.false_alarms / self.minutes, 3)
            if self.minutes
            else 0.0,
        }


def tally(
    windows: Sequence[Mapping[str, Any]], labels: Sequence[int], thresholds: MomentThresholds
) -> Tally:
    moments = find_moments(
        windows, face=None, transcript=[], scored_tracks=set(), thresholds=thresholds
    )
    truth = events(labels)

    def near(moment: Mapping[str, Any], event: Event) -> bool:
        return bool(
            moment["dimension"] == event.dimension
            and event.start_s - TOLERANCE_S <= moment["t_s"] <= event.end_s + TOLERANCE_S
        )

    counted = [m for m in moments if not any(near(m, e) and not e.scored for e in truth)]
    return Tally(
        events=sum(e.scored for e in truth),
        found=sum(e.scored and any(near(m, e) for m in moments) for e in truth),
        moments=len(counted),
        false_alarms=sum(not any(near(m, e) for e in truth) for m in counted),
        minutes=len(labels) * SEGMENT_S / 60,
    )


def grid() -> list[MomentThresholds]:
    return [MomentThresholds(*values) for values in itertools.product(*GRID.values())]


def total(rows: Sequence[tuple[Any, Sequence[int]]], thresholds: MomentThresholds) -> Tally:
    return sum((tally(windows, labels, thresholds) for windows, labels in rows), Tally())


def choose(rows: Sequence[tuple[Any, Sequence[int]]]) -> MomentThresholds:
    """The grid's thresholds with the best F1 on `rows` (ties: fewer false alarms)."""
    figures = {t: total(rows, t).figures() for t in grid()}
    return max(figures, key=lambda t: (figures[t]["f1"], -figures[t]["false_alarms_per_minute"]))


def evaluate(
    rows: Sequence[tuple[Any, Sequence[int]]], names: Sequence[str], seed: int
) -> dict[str, Any]:
    order = np.random.default_rng(seed).permutation(len(rows))
    folds = [set(order[i::FOLDS].tolist()) for i in range(FOLDS)]
    cross = Tally()
    chosen_per_fold = []
    for fold in folds:
        chosen = choose([row for i, row in enumerate(rows) if i not in fold])
        chosen_per_fold.append(asdict(chosen))
        cross += total([row for i, row in enumerate(rows) if i in fold], chosen)
    in_use = MomentThresholds()
    chosen = choose(rows)
    readings = {"hand-set before": HAND_SET, "in use": in_use, "chosen": chosen}
    by_kind = {
        kind: {
            name: total([r for r, n in zip(rows, names, strict=True) if kind in n], t).figures()
            for name, t in readings.items()
        }
        for kind in KINDS
    }
    return {
        "recordings": len(rows),
        "events": total(rows, in_use).events,
        **{
            name: {"thresholds": asdict(t), **total(rows, t).figures()}
            for name, t in readings.items()
        },
        "chosen, cross-validated": cross.figures(),
        "chosen per fold": chosen_per_fold,
        "by kind": by_kind,
    }


def run(args: argparse.Namespace) -> int:
    from analysis.face.stage import run_face_stage

    plans = {
        number: plan(KINDS[number % len(KINDS)], np.random.default_rng([args.seed, number]))
        for number in range(args.recordings)
    }
    recordings: list[Recording] = build_recordings(
        args.recordings,
        args.seed,
        segment_count=SEGMENTS,
        label_at=lambda rng, number, segment: plans[number][segment],
    )
    rows = []
    names = []
    with tempfile.TemporaryDirectory() as folder:
        for number, recording in enumerate(recordings):
            video = write_video(Path(folder) / "recording.mp4", recording)
            rows.append((channel_windows(recording, run_face_stage(video)), plans[number]))
            names.append(f"{recording.name}, {KINDS[number % len(KINDS)]}")
            print(f"{number + 1}/{len(recordings)} {names[-1]}", file=sys.stderr, flush=True)
    print(json.dumps(evaluate(rows, names, args.seed), indent=1))
    return 0
