"""Which turn of a known conversation said each transcribed word: the transcript's words aligned
to the turns' own words.

Matching a word to the turn nearest its time cannot see a word timed seconds late: it lands in
the next turn and looks right there. The transcript's words are instead aligned, in order, to
the words the turns said (a global alignment; a match scores 2, less 0.2 for each second the
word lies outside the matched turn, a mismatch -0.5, a word left out -1), so a word is owned by
the turn whose words it matched. The time term only chooses between turns that said the same
words (RAVDESS's two statements recur in every conversation). A word the alignment leaves out,
misheard or added by the decoder, goes to the turn nearest its time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from analysis.text.transcribe import Word
from benchmarks._conversations import Conversation, Turn

MATCH, MISMATCH, LEFT_OUT = 2.0, -0.5, -1.0
PER_SECOND_AWAY = 0.2


def _said(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def seconds_outside(turn: Turn, word: Word) -> float:
    """How far `word` lies outside `turn`'s speech (0 inside it)."""
    return max(turn.start_s - word.start_s, 0.0, word.end_s - turn.end_s)


def _nearest_turn(turns: Sequence[Turn], word: Word) -> int:
    return int(np.argmin([seconds_outside(t, word) for t in turns]))


def turns_of_words(conversation: Conversation, words: Sequence[Word]) -> tuple[list[int], int]:
    """Each word's turn (index into `conversation.turns`), and how many words matched a word
    of their turn exactly."""
    turns = conversation.turns
    reference: list[tuple[str, int]] = [
        (token, k) for k, turn in enumerate(turns) for token in _said(turn.text)
    ]
    heard = [" ".join(_said(w.text)) for w in words]
    n, m = len(words), len(reference)
    score = np.zeros((n + 1, m + 1))
    score[1:, 0] = LEFT_OUT * np.arange(1, n + 1)
    score[0, 1:] = LEFT_OUT * np.arange(1, m + 1)
    move = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0 paired, 1 word left out, 2 turn's word
    move[1:, 0], move[0, 1:] = 1, 2
    away = np.array([[seconds_outside(t, w) for t in turns] for w in words]).reshape(n, len(turns))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            token, k = reference[j - 1]
            paired = MATCH if heard[i - 1] == token else MISMATCH
            options = (
                score[i - 1, j - 1] + paired - PER_SECOND_AWAY * away[i - 1, k],
                score[i - 1, j] + LEFT_OUT,
                score[i, j - 1] + LEFT_OUT,
            )
            move[i, j] = int(np.argmax(options))
            score[i, j] = options[move[i, j]]
    owner: list[int | None] = [None] * n
    exact = 0
    i, j = n, m
    while i or j:
        if move[i, j] == 0:
            owner[i - 1] = reference[j - 1][1]
            exact += heard[i - 1] == reference[j - 1][0]
            i, j = i - 1, j - 1
        elif move[i, j] == 1:
            i -= 1
        else:
            j -= 1
    found = [_nearest_turn(turns, w) if k is None else k for k, w in zip(owner, words, strict=True)]
    return found, exact
