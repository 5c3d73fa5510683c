"""Utterances as the decoder gives them, built from (word, start_s, end_s) for tests."""

from __future__ import annotations

from analysis.text.transcribe import Utterance, Word


def decoded(*words: tuple[str, float, float]) -> Utterance:
    """One decoder segment holding `words`, timed and worded by them."""
    return Utterance(
        start_s=words[0][1],
        end_s=words[-1][2],
        text=" ".join(text for text, _, _ in words),
        words=tuple(Word(start_s, end_s, text, 0.9) for text, start_s, end_s in words),
        avg_logprob=-0.3,
    )
