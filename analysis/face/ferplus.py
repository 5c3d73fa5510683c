"""FER+ (FER2013 faces with Microsoft's crowd votes) as Moodline's seven emotions.

Each image carries 10 votes over neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt, unknown and not-a-face. Moodline reports seven emotions, so two choices are made here
and documented in the model card:

- **contempt is folded into disgust**: both are the "rejection" family in Ekman's sense, FER+
  raters confuse them, and Moodline has no contempt label (an eighth output would be one more
  rare class to calibrate, with ~200 training images);
- **unknown and not-a-face votes are spread evenly over the seven emotions**: a face that raters
  could not read, or that is no face, is a target of low confidence, not a discarded image, so
  the CNN learns to be unsure where people were.

The majority label (argmax of the seven folded vote counts, ties to the first) is what
accuracy, UAR and calibration are reported against; images whose most voted answer is
unknown or not-a-face are left out of that reporting, as in the FER+ paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.labels import EMOTIONS

FERPLUS_VOTE_LABELS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "not_a_face",
)
# Where each FER+ emotion vote goes among EMOTIONS (contempt: see the module docstring).
FERPLUS_TO_EMOTION: dict[str, str] = {
    "neutral": "neutral",
    "happiness": "happy",
    "surprise": "surprise",
    "sadness": "sad",
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "contempt": "disgust",
}
UNREADABLE_VOTES = ("unknown", "not_a_face")
NO_MAJORITY = -1  # majority label of an image whose top answer is unknown or not-a-face
DEFAULT_PATH = Path(__file__).resolve().parents[3] / "shared" / "data" / "ferplus"
DATA_FILE = "ferplus_train_valid.npz"


@dataclass(frozen=True)
class FerPlusSplit:
    images: np.ndarray  # (N, 48, 48) uint8 grey face crops
    targets: np.ndarray  # (N, 7) float32 vote distributions over EMOTIONS, rows sum to 1
    majority: np.ndarray  # (N,) int64 index into EMOTIONS, or NO_MAJORITY

    def __len__(self) -> int:
        return len(self.images)

    @property
    def scored(self) -> np.ndarray:
        """Indices of the images with an emotion as their majority answer."""
        return np.flatnonzero(self.majority != NO_MAJORITY)


def folding_matrix() -> np.ndarray:
    """(10, 7): FER+ vote counts @ this = counts over EMOTIONS, unreadable votes spread evenly."""
    matrix = np.zeros((len(FERPLUS_VOTE_LABELS), len(EMOTIONS)), dtype=np.float32)
    for row, label in enumerate(FERPLUS_VOTE_LABELS):
        if label in UNREADABLE_VOTES:
            matrix[row, :] = 1.0 / len(EMOTIONS)
        else:
            matrix[row, EMOTIONS.index(FERPLUS_TO_EMOTION[label])] = 1.0
    return matrix


def vote_targets(votes: np.ndarray) -> np.ndarray:
    """(N, 10) vote counts -> (N, 7) probability targets over EMOTIONS."""
    counts = votes.astype(np.float32) @ folding_matrix()
    totals = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / len(EMOTIONS))
    targets: np.ndarray = np.where(totals > 0, counts / np.maximum(totals, 1e-9), uniform)
    return targets


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """(N, 10) vote counts -> (N,) the most voted emotion (contempt folded), or NO_MAJORITY."""
    emotion_counts = votes.astype(np.int64) @ (folding_matrix() == 1.0).astype(np.int64)
    unreadable = votes[:, [FERPLUS_VOTE_LABELS.index(u) for u in UNREADABLE_VOTES]].max(axis=1)
    best = emotion_counts.argmax(axis=1)
    top = emotion_counts.max(axis=1)
    return np.where(top > unreadable, best, NO_MAJORITY).astype(np.int64)


def load_ferplus(root: Path = DEFAULT_PATH) -> dict[str, FerPlusSplit]:
    """The `train` and `valid` splits of `root/ferplus_train_valid.npz`."""
    path = root / DATA_FILE if root.is_dir() else root
    if not path.is_file():
        raise FileNotFoundError(f"FER+ data not found at {path} (see shared/data/README.md)")
    with np.load(path) as data:
        labels = tuple(str(v) for v in data["vote_labels"])
        if labels != FERPLUS_VOTE_LABELS:
            raise ValueError(f"{path}: unexpected vote labels {labels}")
        images, votes, split = data["images"], data["votes"], data["split"]
    return {
        name: FerPlusSplit(
            images=np.ascontiguousarray(images[split == name]),
            targets=vote_targets(votes[split == name]),
            majority=majority_labels(votes[split == name]),
        )
        for name in ("train", "valid")
    }
