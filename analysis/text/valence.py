"""A sentence's valence from the two readers the transcript has: the trained head and VADER.

The head (MiniLM + ridge on EmoBank) reads the whole sentence; VADER reads polarity words.
Which of them — or a blend of the two — a timeline uses is chosen on EmoBank dev by rank
agreement (Spearman) with human valence ratings, not fixed: `python -m analysis evaluate
text-valence --write` measures the head alone, VADER alone, their plain average, and a linear
blend fitted on EmoBank train, and keeps the best in `text_valence.json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

CHOICE_PATH = Path(__file__).with_name("text_valence.json")
HEAD, VADER, AVERAGE, BLEND = "head", "vader", "average", "blend"
METHODS = (HEAD, VADER, AVERAGE, BLEND)


@dataclass(frozen=True)
class ValenceChoice:
    method: str  # one of METHODS
    # the blend's weights: valence = head_weight * head + vader_weight * vader + intercept
    head_weight: float = 1.0
    vader_weight: float = 0.0
    intercept: float = 0.0
    dev_spearman: dict[str, float] | None = None  # every method's figure when it was chosen

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"text valence method {self.method!r} is not one of {METHODS}")

    def valence(self, head: float, vader: float) -> float:
        if self.method == HEAD:
            value = head
        elif self.method == VADER:
            value = vader
        elif self.method == AVERAGE:
            value = (head + vader) / 2
        else:
            value = self.head_weight * head + self.vader_weight * vader + self.intercept
        return max(-1.0, min(1.0, value))

    @property
    def source(self) -> str:
        return {
            HEAD: "MiniLM head",
            VADER: "VADER",
            AVERAGE: "mean of MiniLM head and VADER",
            BLEND: "blend of MiniLM head and VADER, fitted on EmoBank train",
        }[self.method]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@cache
def shipped_choice() -> ValenceChoice:
    return ValenceChoice(**json.loads(CHOICE_PATH.read_text()))
