"""Fit and evaluate the vocal-arousal calibration on RAVDESS acted speech (actors 01-08).

    python -m analysis evaluate voice-arousal [--write]

Each sentence is trimmed of its leading and trailing silence and read as one speech piece (its
speech rate: six words over the trimmed length). What is fitted (`fit_calibration`):

- the population prior: the mean and spread of each cue but loudness (a level in dBFS belongs
  to one recording's microphone and gain) over the neutral and calm sentences of all actors —
  the spread includes how people differ, which is what a reading against strangers must allow
  for — and how far each actor's own neutral mean sits from it, in its spread;
- the scale: a typical strong, high-arousal sentence (the median mean z of strong angry,
  fearful, happy and surprised sentences against the speaker's own baseline) reads
  `STRONG_READS_AS`, so strong acted emotions reach the ends of the scale.

The figures are leave-one-actor-out: the calibration is fitted on seven actors and read on the
eighth, in two settings — a speaker's whole session (all 60 of the actor's sentences as their
own baseline) and a speaker heard once (each sentence alone: no baseline of their own). Beside
each, the uncalibrated reading (own baseline only, tanh(z / 1.5)) in the same run. `--write`
saves the calibration fitted on all eight actors as `arousal_calibration.json`.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.voice.arousal import (
    CALIBRATION_PATH,
    CUES,
    POPULATION_CUES,
    UNCALIBRATED,
    ArousalCalibration,
    CueReference,
    VocalArousal,
    cue_values,
    vocal_arousal,
)
from analysis.voice.prosody import SAMPLE_RATE_HZ, ProsodyFeatures, prosody_features
from analysis.voice.ravdess import ActedSentence, acted_sentences

STRONG_READS_AS = 0.8
TRIM_TOP_DB = 30.0  # silence: quieter than the sentence's peak by this much
FITTED_ON = (
    "RAVDESS speech, actors 01-08 (CC BY-NC-SA 4.0): summary statistics of neutral and calm "
    "sentences, and the scale at which strong acted emotions read 0.8"
)


@dataclass(frozen=True)
class Piece:
    sentence: ActedSentence
    prosody: ProsodyFeatures
    rate_wps: float


def read_pieces(sentences: Sequence[ActedSentence]) -> list[Piece]:
    import librosa
    import soundfile as sf

    pieces = []
    for sentence in sentences:
        samples, rate = sf.read(sentence.path, dtype="float32")
        if rate != SAMPLE_RATE_HZ:
            raise ValueError(f"{sentence.path.name}: {rate} Hz, expected {SAMPLE_RATE_HZ}")
        speech, _ = librosa.effects.trim(samples, top_db=TRIM_TOP_DB)
        features = prosody_features(speech)
        pieces.append(Piece(sentence, features, len(sentence.words.split()) / features.duration_s))
    return pieces


def _values(pieces: Sequence[Piece]) -> dict[str, np.ndarray]:
    values = cue_values([p.prosody for p in pieces], [p.rate_wps for p in pieces])
    return {cue: np.array([np.nan if v is None else v for v in values[cue]]) for cue in CUES}


def fit_calibration(pieces: Sequence[Piece]) -> ArousalCalibration:
    calm = [p for p in pieces if p.sentence.emotion in ("neutral", "calm")]
    values = _values(calm)
    actors = np.array([p.sentence.actor for p in calm])
    population, offsets = {}, []
    for cue in POPULATION_CUES:
        mean, sd = float(np.nanmean(values[cue])), float(np.nanstd(values[cue]))
        population[cue] = CueReference(round(mean, 4), round(sd, 4))
        actor_means = [np.nanmean(values[cue][actors == a]) for a in np.unique(actors)]
        offsets.append(float(np.std(actor_means)) / sd)
    strong = [
        z
        for actor in sorted({p.sentence.actor for p in pieces})
        for p, z in _own_baseline_z(pieces, actor)
        if p.sentence.strong and p.sentence.arousal_class == 1
    ]
    return ArousalCalibration(
        z_scale=round(float(np.median(strong)) / math.atanh(STRONG_READS_AS), 4),
        population=population,
        population_offset_z=round(float(np.mean(offsets)), 4),
        fitted_on=FITTED_ON,
    )


def _own_baseline_z(pieces: Sequence[Piece], actor: int) -> list[tuple[Piece, float]]:
    """Each of one actor's pieces with its mean z against that actor's own pieces."""
    own = [p for p in pieces if p.sentence.actor == actor]
    readings = vocal_arousal(
        [p.prosody for p in own], [p.rate_wps for p in own], calibration=UNCALIBRATED
    )
    return [
        (p, float(np.mean(list(r.z_scores.values()))))
        for p, r in zip(own, readings, strict=True)
        if r is not None
    ]


def _read(
    pieces: Sequence[Piece], calibration: ArousalCalibration, *, alone: bool
) -> list[VocalArousal | None]:
    if alone:
        return [
            vocal_arousal([p.prosody], [p.rate_wps], calibration=calibration)[0] for p in pieces
        ]
    return vocal_arousal(
        [p.prosody for p in pieces], [p.rate_wps for p in pieces], calibration=calibration
    )


def summarise(pieces: Sequence[Piece], readings: Sequence[VocalArousal | None]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    read = [(p, r) for p, r in zip(pieces, readings, strict=True) if r is not None]
    coverage = len(read) / len(pieces) if pieces else 0.0
    long_enough = [r for p, r in zip(pieces, readings, strict=True) if p.prosody.duration_s >= 2]
    if not read:
        return {"n": len(pieces), "coverage": 0.0, "coverage_of_pieces_2s_or_longer": 0.0}
    labelled = [(p.sentence.arousal_class, r.arousal) for p, r in read]
    labelled = [(c, a) for c, a in labelled if c is not None]
    arousal = np.array([r.arousal for _, r in read])
    strong_high = [r.arousal for p, r in read if p.sentence.strong and p.sentence.arousal_class]
    calm = [r.arousal for p, r in read if p.sentence.emotion in ("neutral", "calm")]
    inside = [
        r.interval[0] <= r.arousal <= r.interval[1] and r.interval[1] - r.interval[0]
        for _, r in read
    ]
    return {
        "n": len(pieces),
        "coverage": round(coverage, 3),
        "coverage_of_pieces_2s_or_longer": round(
            sum(r is not None for r in long_enough) / max(1, len(long_enough)), 3
        ),
        "auc_high_vs_low": round(float(roc_auc_score(*zip(*labelled, strict=True))), 3),
        "arousal_p5_p95": [round(float(v), 3) for v in np.percentile(arousal, [5, 95])],
        "median_strong_high_arousal": round(float(np.median(strong_high)), 3),
        "median_neutral_calm": round(float(np.median(calm)), 3),
        "mean_confidence": round(float(np.mean([r.confidence for _, r in read])), 3),
        "mean_interval_width": round(float(np.mean([float(w) for w in inside])), 3),
    }


def evaluate(pieces: Sequence[Piece]) -> dict[str, Any]:
    """Leave-one-actor-out figures, calibrated and not, for a whole session and a single piece."""
    actors = sorted({p.sentence.actor for p in pieces})
    readings: dict[str, list[tuple[Piece, VocalArousal | None]]] = {}
    for actor in actors:
        held_out = [p for p in pieces if p.sentence.actor == actor]
        fitted = fit_calibration([p for p in pieces if p.sentence.actor != actor])
        for name, calibration, alone in (
            ("session, uncalibrated", UNCALIBRATED, False),
            ("session, calibrated", fitted, False),
            ("heard once, uncalibrated", UNCALIBRATED, True),
            ("heard once, calibrated", fitted, True),
        ):
            read = _read(held_out, calibration, alone=alone)
            readings.setdefault(name, []).extend(zip(held_out, read, strict=True))
    return {
        name: summarise([p for p, _ in pairs], [r for _, r in pairs])
        for name, pairs in readings.items()
    }


def run(args: argparse.Namespace) -> int:
    pieces = read_pieces(acted_sentences(args.data) if args.data else acted_sentences())
    result: dict[str, Any] = {
        "data": "RAVDESS speech, actors 01-08, leave one actor out",
        "figures": evaluate(pieces),
    }
    calibration = fit_calibration(pieces)
    result["calibration_on_all_actors"] = calibration.to_dict()
    if args.write:
        path: Path = args.write_to or CALIBRATION_PATH
        path.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n")
        result["written"] = str(path)
    print(json.dumps(result, indent=2))
    return 0
