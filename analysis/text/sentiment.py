"""Transcript sentiment: VADER's compound score, a lexicon-and-rules measure in [-1, 1]."""

from __future__ import annotations

from functools import cache
from typing import Any, TypedDict

from analysis.weights.speech import VADER, shipped_path

NEGATIVE_BELOW = -0.05  # VADER's own recommended cut-offs for a polarity label
POSITIVE_ABOVE = 0.05


class Sentiment(TypedDict):
    compound: float  # -1 (most negative) .. 1 (most positive)
    label: str  # negative | neutral | positive
    source: str  # "vader"


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer(lexicon_file=str(shipped_path(VADER)))


def sentiment(text: str) -> Sentiment:
    """{"compound": -1..1, "label": negative|neutral|positive, "source": "vader"}."""
    compound = float(_analyzer().polarity_scores(text)["compound"])
    if compound <= NEGATIVE_BELOW:
        label = "negative"
    elif compound >= POSITIVE_ABOVE:
        label = "positive"
    else:
        label = "neutral"
    return {"compound": round(compound, 4), "label": label, "source": "vader"}
