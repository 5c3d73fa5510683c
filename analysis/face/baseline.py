"""A face read against the person's own rest, not against the average web photo.

The expression CNN learnt what "neutral" looks like from FER+ raters; a client whose resting
face it reads as a little sad would be reported sad all session. So each face track gets a
rest baseline — the CNN's mean reading over the calmer half of the track's frames (those
with the lowest circumplex arousal) — and every window is also reported relative to it:

    relative = softmax(log p_window - log p_rest + log p_reference)

where `p_reference` is what the CNN reads, on average, on faces raters called neutral (FER+
`valid`, stored with the CNN). A client whose rest looks like the reference is unchanged; one
whose rest looks sad has that sadness taken out, and any departure from their rest stands out.

The baseline is unreliable when the track is short (under `BASELINE_MIN_FRAMES` calm frames,
10 s at 5 frames a second): the relative reading is then still computed and kept, but fusion
uses the raw reading and the timeline says why. It also misleads when the client spends the
whole session in one strong expression (there is no rest to find), which the frame count
cannot detect: the raw reading is always kept beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.labels import EMOTION_VALENCE_AROUSAL, EMOTIONS

BASELINE_MIN_FRAMES = 50  # calm frames needed for a reliable baseline (10 s at 5 fps)
CALM_SHARE = 0.5  # the calmer half of a track's frames is its rest
PROBABILITY_FLOOR = 1e-6
_AROUSAL = np.array([EMOTION_VALENCE_AROUSAL[label][1] for label in EMOTIONS])


@dataclass(frozen=True)
class RestBaseline:
    probs: np.ndarray  # (7,) mean probabilities over the rest frames
    frames: int  # how many frames it was measured on
    reliable: bool


def rest_baseline(frame_probs: Sequence[Sequence[float]] | np.ndarray) -> RestBaseline:
    """The rest of one face track from its per-frame probabilities (T, 7)."""
    probs = np.asarray(frame_probs, dtype=np.float64).reshape(-1, len(EMOTIONS))
    arousal = probs @ _AROUSAL
    calm = np.argsort(arousal, kind="stable")[: max(1, int(len(probs) * CALM_SHARE))]
    return RestBaseline(
        probs=probs[calm].mean(axis=0),
        frames=len(calm),
        reliable=len(calm) >= BASELINE_MIN_FRAMES,
    )


def relative_to_rest(
    probs: np.ndarray, baseline: RestBaseline, reference: np.ndarray
) -> np.ndarray:
    """(7,) window probabilities re-read against the person's rest (see the module docstring)."""
    logits = (
        np.log(np.maximum(probs, PROBABILITY_FLOOR))
        - np.log(np.maximum(baseline.probs, PROBABILITY_FLOOR))
        + np.log(np.maximum(reference, PROBABILITY_FLOOR))
    )
    shifted = np.exp(logits - logits.max())
    relative: np.ndarray = shifted / shifted.sum()
    return relative
