"""RAVDESS acted speech (actors 01-08, shared/data/ravdess_speech_actors01-08/): files and labels.

File names carry the labels: modality-channel-emotion-intensity-statement-repetition-actor,
emotion 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised;
intensity 01 normal, 02 strong. Both statements have six words. The data is CC BY-NC-SA 4.0:
what is fitted on it says so where it is described.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "ravdess_speech_actors01-08"
EMOTION_CODES = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
# Arousal as the emotion categories imply it (disgust is neither: left out of arousal figures)
HIGH_AROUSAL = frozenset({"happy", "angry", "fearful", "surprised"})
LOW_AROUSAL = frozenset({"neutral", "calm", "sad"})


@dataclass(frozen=True)
class ActedSentence:
    path: Path
    actor: int  # 1..8; odd male, even female
    emotion: str  # RAVDESS's own eight labels
    strong: bool  # intensity 02
    words: str  # the statement said

    @property
    def arousal_class(self) -> int | None:
        """1 high, 0 low, None for neither."""
        if self.emotion in HIGH_AROUSAL:
            return 1
        return 0 if self.emotion in LOW_AROUSAL else None


def acted_sentences(root: Path = DEFAULT_DIR) -> list[ActedSentence]:
    files = sorted(root.glob("Actor_*/*.flac"))
    if not files:
        raise FileNotFoundError(
            f"RAVDESS speech not found under {root} (see shared/data/README.md)"
        )
    sentences = []
    for path in files:
        fields = path.stem.split("-")
        if len(fields) != 7 or fields[2] not in EMOTION_CODES or fields[4] not in STATEMENTS:
            raise ValueError(f"{path.name}: not a RAVDESS file name")
        sentences.append(
            ActedSentence(
                path=path,
                actor=int(fields[6]),
                emotion=EMOTION_CODES[fields[2]],
                strong=fields[3] == "02",
                words=STATEMENTS[fields[4]],
            )
        )
    return sentences
