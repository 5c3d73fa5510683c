"""Transcript sentiment (VADER) and emotion (MiniLM + trained head) on therapy-style sentences."""

from __future__ import annotations

import pytest

from analysis.labels import EMOTIONS
from analysis.text.emotion import TextEmotion, text_emotions
from analysis.text.sentiment import sentiment

NEGATIVE = "I feel hopeless and empty, and I hate waking up every morning."
NEUTRAL = "We moved the appointment to Thursday at four."
POSITIVE = "I finally feel hopeful and proud of how far I have come."


def top(result: TextEmotion) -> str:
    return max(result.probs, key=lambda label: result.probs[label])


def test_vader_ranks_negative_below_neutral_below_positive():
    scores = [sentiment(t) for t in (NEGATIVE, NEUTRAL, POSITIVE)]

    compounds = [s["compound"] for s in scores]
    assert compounds[0] < -0.5
    assert compounds[2] > 0.5
    assert compounds[0] < compounds[1] < compounds[2]
    assert [s["label"] for s in scores] == ["negative", "neutral", "positive"]


def test_plain_words_carry_no_affect_and_feeling_words_carry_much():
    plain = [sentiment(t)["affect"] for t in (NEUTRAL, "Kids are talking by the door.")]
    felt = [sentiment(t)["affect"] for t in (NEGATIVE, POSITIVE)]

    assert plain == [0.0, 0.0]
    assert all(0.3 < share <= 1.0 for share in felt)
    assert sentiment("...")["affect"] == 0.0  # no words, no affect


@pytest.mark.slow
def test_the_minilm_head_ranks_the_same_sentences_in_the_same_order():
    negative, neutral, positive = text_emotions([NEGATIVE, NEUTRAL, POSITIVE])

    assert negative.valence < neutral.valence < positive.valence
    assert top(negative) == "sad"
    assert top(neutral) == "neutral"
    assert top(positive) == "happy"
    for result in (negative, neutral, positive):
        assert list(result.probs) == list(EMOTIONS)
        assert sum(result.probs.values()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_fear_and_anger_are_told_apart():
    afraid, angry = text_emotions(
        [
            "I am terrified the panic attacks will come back.",
            "I am furious that he lied to me again.",
        ]
    )

    assert top(afraid) == "fear"
    assert top(angry) == "angry"
    assert afraid.arousal > 0
    assert angry.arousal > 0
