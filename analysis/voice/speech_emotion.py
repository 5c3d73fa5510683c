"""An optional speech-emotion head: Moodline's seven labels from how a piece of speech sounds.

Logistic regression over prosodic and spectral statistics of the piece (`emotion_features`),
trained on RAVDESS actors 01-08 (`python -m analysis train-speech-emotion`; figures are
leave-one-actor-out, docs/models/speech-emotion-ravdess.md). RAVDESS is CC BY-NC-SA 4.0, so a
head trained on it may not serve every deployment: it is off unless
`MOODLINE_SPEECH_EMOTION=ravdess-nc`. When on, every voice piece gets emotion probabilities,
which fusion weighs like the face's and the words'.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from analysis.errors import ErrorCode, ModelError
from analysis.labels import EMOTIONS
from analysis.voice.prosody import SAMPLE_RATE_HZ, ProsodyFeatures

SETTING = "MOODLINE_SPEECH_EMOTION"
RAVDESS_NC = "ravdess-nc"
HEAD_PATH = Path(__file__).with_name("speech_emotion_head.json")
SOURCE = "speech-emotion head (RAVDESS, CC BY-NC-SA)"
MFCC_COUNT = 13


def speech_emotion_setting() -> str | None:
    """The head asked for by MOODLINE_SPEECH_EMOTION (None: off, the default)."""
    value = os.environ.get(SETTING, "").strip()
    if value in ("", "off", "0"):
        return None
    if value != RAVDESS_NC:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"{SETTING}={value!r}: the only speech-emotion head is {RAVDESS_NC!r} (or leave unset)",
        )
    return value


def emotion_features(samples: np.ndarray, prosody: ProsodyFeatures) -> np.ndarray:
    """(51,) statistics of one 16 kHz mono piece: pitch, loudness and voicing (6); MFCC means and
    deviations without c0 (24); deviations of their deltas (12); spectral centroid, roll-off,
    flatness and zero-crossing rate, mean and deviation (8); loudness range (1)."""
    import librosa

    x = samples.astype(np.float32, copy=False)
    mfcc = librosa.feature.mfcc(y=x, sr=SAMPLE_RATE_HZ, n_mfcc=MFCC_COUNT)
    delta = librosa.feature.delta(mfcc, mode="nearest")[1:] if mfcc.shape[1] >= 3 else mfcc[1:] * 0
    spectral = np.vstack(
        [
            librosa.feature.spectral_centroid(y=x, sr=SAMPLE_RATE_HZ) / 1000,
            librosa.feature.spectral_rolloff(y=x, sr=SAMPLE_RATE_HZ) / 1000,
            librosa.feature.spectral_flatness(y=x),
            librosa.feature.zero_crossing_rate(x),
        ]
    )
    rms_db = 20 * np.log10(librosa.feature.rms(y=x)[0] + 1e-6)
    pitched = prosody.f0_median_hz is not None
    return np.array(
        [
            12 * math.log2(prosody.f0_median_hz / 100.0) if prosody.f0_median_hz else 0.0,
            prosody.f0_sd_semitones or 0.0,
            prosody.intensity_db,
            prosody.voiced_fraction,
            prosody.hnr_db or 0.0,
            float(pitched),
            *mfcc[1:].mean(axis=1),
            *mfcc[1:].std(axis=1),
            *delta.std(axis=1),
            *spectral.mean(axis=1),
            *spectral.std(axis=1),
            float(np.percentile(rms_db, 95) - np.percentile(rms_db, 5)),
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class SpeechEmotionHead:
    mean: np.ndarray  # (d,) feature standardisation
    scale: np.ndarray  # (d,)
    coef: np.ndarray  # (7, d)
    intercept: np.ndarray  # (7,)
    temperature: float  # fitted on the cross-validated probabilities

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, d) or (d,) features -> (n, 7) or (7,) probabilities over EMOTIONS."""
        z = (np.atleast_2d(features) - self.mean) / self.scale
        logits = (z @ self.coef.T + self.intercept) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return np.asarray(probs if features.ndim == 2 else probs[0])

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": list(EMOTIONS),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "temperature": self.temperature,
        }

    @staticmethod
    def from_dict(data: Mapping[str, object]) -> SpeechEmotionHead:
        if tuple(data["labels"]) != EMOTIONS:  # type: ignore[arg-type]
            raise ValueError("speech-emotion head labels differ from analysis.labels.EMOTIONS")
        return SpeechEmotionHead(
            mean=np.asarray(data["mean"]),
            scale=np.asarray(data["scale"]),
            coef=np.asarray(data["coef"]),
            intercept=np.asarray(data["intercept"]),
            temperature=float(data["temperature"]),  # type: ignore[arg-type]
        )


@cache
def shipped_head() -> SpeechEmotionHead:
    data = json.loads(HEAD_PATH.read_text())
    return SpeechEmotionHead.from_dict(data["head"])
