"""What in a region's decode was heard nowhere, and whether the decode can be trusted.

Whisper's text can run on where its audio does not. Where the same sentence is said turn after
turn, its alignment slips by a whole sentence, and the words it cannot place are given no
duration; and its decoder can loop, repeating a sentence tens of times at the end of its audio
(both measured on RAVDESS conversations, docs/evaluation.md "Decodes checked"). Either leaves
text the decoder's own times give faster than anyone speaks:

- a sentence whose letters come faster than `MAX_LETTERS_PER_S` has no speech under it, and is
  dropped (speech, even fast, is under 25 letters a second; the loops and the alignment's
  leftovers measured 37 and more);
- a region whose decode held such a sentence, gave `DOUBTFUL_COLLAPSED` or more words no
  duration, or was sampled after Whisper rejected its greedy decode, is decoded again in its
  parts (`decoding_regions.parts`): stretch of speech by stretch, and a stretch still doubtful
  VAD segment by segment, so that no sentence can slip from one stretch of speech into
  another. Where a sentence recurs, Whisper's own fallback makes samples likelier: text that
  compresses well reads to it as a loop, and it samples again at a higher temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from analysis.text.decoding_regions import COLLAPSED_WORD_S, SENTENCE_ENDS

if TYPE_CHECKING:
    from analysis.text.transcribe import Utterance, Word

MAX_LETTERS_PER_S = 35.0
# one collapsed word is the last word of a short sentence (placed beside its neighbour);
# two or more were, in the conversations measured, the alignment running out
DOUBTFUL_COLLAPSED = 2


def sentences(words: Sequence[Word]) -> list[list[Word]]:
    """The words in runs that each end with a sentence's end (the last run may not)."""
    runs: list[list[Word]] = [[]]
    for word in words:
        runs[-1].append(word)
        if word.text.rstrip().endswith(SENTENCE_ENDS):
            runs.append([])
    return [run for run in runs if run]


def heard_nowhere(sentence: Sequence[Word]) -> bool:
    """Whether the decoder's times give the sentence's letters faster than speech comes. A
    lone word is never judged so: one word with no duration is placed beside its neighbour."""
    if len(sentence) < 2:
        return False
    letters = sum(char.isalnum() for word in sentence for char in word.text)
    span_s = sentence[-1].end_s - sentence[0].start_s
    return letters > MAX_LETTERS_PER_S * span_s


def without_unheard(utterances: Sequence[Utterance]) -> tuple[list[Utterance], int]:
    """The utterances less their sentences heard nowhere, and how many sentences went. An
    utterance left with no words goes; one that came with none (untimed) stays."""
    kept: list[Utterance] = []
    dropped = 0
    for utterance in utterances:
        if not utterance.words:
            kept.append(utterance)
            continue
        words: list[Word] = []
        for sentence in sentences(utterance.words):
            if heard_nowhere(sentence):
                dropped += 1
            else:
                words += sentence
        if len(words) == len(utterance.words):
            kept.append(utterance)
        elif words:
            text = " ".join(word.text for word in words)
            kept.append(replace(utterance, words=tuple(words), text=text))
    return kept, dropped


def doubtful(utterances: Sequence[Utterance], dropped: int) -> bool:
    """Whether a decode (in the decoder's times, before `without_unheard` dropped `dropped`
    sentences from it) shows its alignment running out, or is a sample Whisper fell back to:
    one such sample left a sentence of four out, with nothing else amiss (measured)."""
    collapsed = sum(
        word.end_s - word.start_s < COLLAPSED_WORD_S for u in utterances for word in u.words
    )
    sampled = any((u.temperature or 0.0) > 0.0 for u in utterances)
    return dropped > 0 or sampled or collapsed >= DOUBTFUL_COLLAPSED
