"""Transcript sentiment: VADER's compound score, a lexicon-and-rules measure in [-1, 1], and how
much of a line carries affect at all."""

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
    # Share of the line's sentiment that VADER's lexicon finds in affect-bearing words (its pos +
    # neg): 0 for a plain sentence such as "Kids are talking by the door."
    affect: float


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer(lexicon_file=str(shipped_path(VADER)))


def sentiment(text: str) -> Sentiment:
    """The line's VADER compound, its polarity label and its share of affect (`Sentiment`)."""
    scores = _analyzer().polarity_scores(text)
    compound = float(scores["compound"])
    if compound <= NEGATIVE_BELOW:
        label = "negative"
    elif compound >= POSITIVE_ABOVE:
        label = "positive"
    else:
        label = "neutral"
    return {
        "compound": round(compound, 4),
        "label": label,
        "source": "vader",
        # pos + neg rather than 1 - neu: a line with no words at all has neither
        "affect": round(min(1.0, float(scores["pos"]) + float(scores["neg"])), 4),
    }
