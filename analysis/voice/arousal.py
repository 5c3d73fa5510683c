"""Vocal arousal of each speech piece, on [-1, 1], against a reference for how that person sounds.

Four prosodic cues — pitch level (semitones re 100 Hz), pitch variability, loudness and speech
rate — are each read as a z-score against a reference; the mean z is mapped through
`tanh(z / z_scale)`. The reference, per cue:

- **speaker**: the speaker's own pieces in this session (at least `MIN_OWN_PIECES`, with spread):
  the best reference, since people differ far more from each other than from themselves;
- **recording** (loudness only, when the speaker has too few pieces): every speaker's pieces in
  this recording — a level in dBFS means nothing across microphones, but within one recording
  the microphone is the same;
- **population** (pitch and speech rate only): a prior (the mean and spread of the cue over
  many people's neutral and calm speech), for a speaker with too little speech of their own.
  The reading then carries a wider interval (how far one person's usual voice sits from the
  population's) and a lower confidence.

Every piece of a speaker with at least `MIN_SPEECH_S` of speech gets an arousal; a speaker with
less gets none. The scale and the prior are the calibration (`ArousalCalibration`), fitted by
`python -m analysis evaluate voice-arousal --write` and read from `arousal_calibration.json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

from analysis.voice.prosody import ProsodyFeatures

AROUSAL_SOURCE = "prosody-derived"
CUES = ("f0_level", "f0_variability", "intensity", "speech_rate")
# A population has no loudness to compare with: a level in dBFS belongs to one microphone and gain.
POPULATION_CUES = ("f0_level", "f0_variability", "speech_rate")
MIN_SPEECH_S = 2.0  # a speaker with less speech than this gets no arousal at all
MIN_OWN_PIECES = 3  # fewer pieces than this: the speaker's own baseline is not used
OWN_PIECES_FOR_FULL_CONFIDENCE = 12
MAX_PROSODY_CONFIDENCE = 0.6  # prosody alone is a weak arousal cue; never outweighs a clear face
# Against the population a reading is worth less than against three of the speaker's own pieces
# (3 / OWN_PIECES_FOR_FULL_CONFIDENCE = 0.25).
POPULATION_CONFIDENCE_SHARE = 0.2
SPEAKER, RECORDING, POPULATION = "speaker", "recording", "population"
CALIBRATION_PATH = Path(__file__).with_name("arousal_calibration.json")
ROUND_DIGITS = 4


@dataclass(frozen=True)
class CueReference:
    mean: float
    sd: float


@dataclass(frozen=True)
class ArousalCalibration:
    z_scale: float  # tanh(z / z_scale): the mean z that reads as 0.76
    # The population prior per cue; None: no fallback, a speaker without a baseline gets nothing
    population: Mapping[str, CueReference] | None
    # How far one person's usual voice sits from the population's, in the population's sd: the
    # half-width, in z, of a reading against the population.
    population_offset_z: float
    fitted_on: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Mapping[str, object]) -> ArousalCalibration:
        population = data["population"]
        return ArousalCalibration(
            z_scale=float(data["z_scale"]),  # type: ignore[arg-type]
            population=None
            if population is None
            else {
                cue: CueReference(float(ref["mean"]), float(ref["sd"]))
                for cue, ref in population.items()  # type: ignore[attr-defined]
            },
            population_offset_z=float(data["population_offset_z"]),  # type: ignore[arg-type]
            fitted_on=str(data["fitted_on"]),
        )


# How arousal was read before it was calibrated: the speaker's own baseline only, tanh(z / 1.5).
UNCALIBRATED = ArousalCalibration(
    z_scale=1.5, population=None, population_offset_z=0.0, fitted_on="set by hand"
)


@cache
def shipped_calibration() -> ArousalCalibration:
    return ArousalCalibration.from_dict(json.loads(CALIBRATION_PATH.read_text()))


@dataclass(frozen=True)
class VocalArousal:
    arousal: float  # -1 (calmer than the reference) .. 1 (more aroused)
    confidence: float  # 0..MAX_PROSODY_CONFIDENCE
    interval: tuple[float, float]  # where the arousal plausibly lies, given the reference
    reference: str  # the weakest reference a cue was read against: speaker, recording, population
    z_scores: dict[str, float]  # per cue


def cue_values(
    pieces: Sequence[ProsodyFeatures], speech_rates_wps: Sequence[float | None]
) -> dict[str, list[float | None]]:
    """Each cue's value per piece (None where the piece has no such value, e.g. unvoiced)."""
    return {
        "f0_level": [
            None if p.f0_median_hz is None else 12 * math.log2(p.f0_median_hz / 100.0)
            for p in pieces
        ],
        "f0_variability": [p.f0_sd_semitones for p in pieces],
        "intensity": [p.intensity_db for p in pieces],
        "speech_rate": list(speech_rates_wps),
    }


def _present(values: Sequence[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None], dtype=float)


def _reference(present: np.ndarray) -> CueReference | None:
    """Mean and spread of enough values; None when they have no spread to measure against."""
    if present.std() < 1e-9:
        return None
    return CueReference(float(present.mean()), float(present.std()))


def vocal_arousal(
    pieces: Sequence[ProsodyFeatures],
    speech_rates_wps: Sequence[float | None],
    *,
    recording_intensities_db: Sequence[float] = (),
    calibration: ArousalCalibration | None = None,
) -> list[VocalArousal | None]:
    """Arousal of each piece of ONE speaker; `recording_intensities_db`: every speaker's pieces'
    loudness in this recording, the loudness reference when the speaker has few pieces."""
    calibration = calibration or shipped_calibration()
    if sum(p.duration_s for p in pieces) < MIN_SPEECH_S and calibration.population is not None:
        return [None for _ in pieces]
    values = cue_values(pieces, speech_rates_wps)
    references: dict[str, tuple[CueReference, str]] = {}
    recording = _present(recording_intensities_db)
    for cue in CUES:
        own = _present(values[cue])
        if len(own) >= MIN_OWN_PIECES:
            # Enough of the speaker's own; a cue that never varied says nothing today.
            if (reference := _reference(own)) is not None:
                references[cue] = (reference, SPEAKER)
        elif cue == "intensity" and len(recording) >= MIN_OWN_PIECES:
            if (reference := _reference(recording)) is not None:
                references[cue] = (reference, RECORDING)
        elif calibration.population is not None and cue in calibration.population:
            references[cue] = (calibration.population[cue], POPULATION)
    own_share = min(1.0, len(pieces) / OWN_PIECES_FOR_FULL_CONFIDENCE)
    result: list[VocalArousal | None] = []
    for i, piece in enumerate(pieces):
        z_scores: dict[str, float] = {}
        used: set[str] = set()
        for cue, (reference, kind) in references.items():
            value = values[cue][i]
            if value is not None:
                z_scores[cue] = (value - reference.mean) / reference.sd
                used.add(kind)
        if not z_scores:
            result.append(None)
            continue
        z_mean = float(np.mean(list(z_scores.values())))
        if POPULATION in used:
            kind, share, half_width = (
                POPULATION,
                POPULATION_CONFIDENCE_SHARE,
                (calibration.population_offset_z),
            )
        else:
            kind = RECORDING if RECORDING in used else SPEAKER
            share, half_width = own_share, 1 / math.sqrt(len(pieces))
        cue_share = len(z_scores) / len(CUES)
        length_share = min(1.0, piece.duration_s / 2.0)
        confidence = MAX_PROSODY_CONFIDENCE * share * cue_share * length_share
        scale = calibration.z_scale
        result.append(
            VocalArousal(
                arousal=round(math.tanh(z_mean / scale), ROUND_DIGITS),
                confidence=round(confidence * max(piece.voiced_fraction, 0.2), ROUND_DIGITS),
                interval=(
                    round(math.tanh((z_mean - half_width) / scale), ROUND_DIGITS),
                    round(math.tanh((z_mean + half_width) / scale), ROUND_DIGITS),
                ),
                reference=kind,
                z_scores={k: round(v, ROUND_DIGITS) for k, v in z_scores.items()},
            )
        )
    return result
