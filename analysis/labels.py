"""The seven discrete emotions every Moodline model reports, and where they sit on the circumplex.

All modalities (face, voice, transcript) speak these labels in this order, so their
probability vectors can be fused position by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# FER2013's order, which the face expression CNN was trained with.
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# (valence, arousal) in [-1, 1] per emotion: approximate positions of the corresponding terms on
# Russell's circumplex of affect (J. A. Russell, "A circumplex model of affect", Journal of
# Personality and Social Psychology 39(6), 1980, Fig. 2: "angry", "disgusted"/"distressed",
# "afraid", "happy", "sad", "astonished"), read off as angles and radii and rounded to 0.1;
# neutral is the origin. They place a face's class probabilities on the valence/arousal plane
# until a model trained on valence/arousal labels exists; they are not a measurement.
EMOTION_VALENCE_AROUSAL: dict[str, tuple[float, float]] = {
    "angry": (-0.6, 0.7),
    "disgust": (-0.7, 0.3),
    "fear": (-0.6, 0.8),
    "happy": (0.8, 0.4),
    "sad": (-0.7, -0.4),
    "surprise": (0.2, 0.8),
    "neutral": (0.0, 0.0),
}


def valence_arousal(
    probs: Mapping[str, float] | Sequence[float] | np.ndarray,
) -> tuple[float, float]:
    """Expected (valence, arousal) under a probability vector over EMOTIONS (or a label→p map)."""
    if isinstance(probs, Mapping):
        weights = np.array([float(probs.get(label, 0.0)) for label in EMOTIONS])
    else:
        weights = np.asarray(probs, dtype=np.float64).reshape(-1)
        if weights.shape != (len(EMOTIONS),):
            raise ValueError(f"expected {len(EMOTIONS)} probabilities, got {weights.shape}")
    total = weights.sum()
    if total <= 0:
        return 0.0, 0.0
    points = np.array([EMOTION_VALENCE_AROUSAL[label] for label in EMOTIONS])
    valence, arousal = (weights / total) @ points
    return float(valence), float(arousal)


# Folder names of public datasets and everyday words, mapped onto EMOTIONS.
LABEL_SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "contempt": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
}


def canonical_label(name: str) -> str | None:
    """A folder or file label ('Happiness', 'SURPRISED', '03_sad') as one of EMOTIONS, or None."""
    key = name.strip().lower()
    if key in LABEL_SYNONYMS:
        return LABEL_SYNONYMS[key]
    for part in key.replace("-", "_").replace(" ", "_").split("_"):
        if part in LABEL_SYNONYMS:
            return LABEL_SYNONYMS[part]
    return None
