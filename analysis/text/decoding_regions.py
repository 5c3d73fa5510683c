"""Where the transcript decodes: regions of speech, with their long silences shortened.

VAD segments are packed into decoding regions (short gaps kept, long silences between regions
skipped, each region inside Whisper's 30 s window). Inside a region, Whisper's word times
drift into long silences — by seconds, measured (docs/evaluation.md, transcript timing) — so
silences longer than `DECODED_PAUSE_S` are cut to that before decoding, and every word is put
back in the recording's time, inside the stretch of speech that holds its middle, then held
inside the VAD segment nearest it (Whisper lets a word run on into the silence after it).

A word the decoder gave no duration has no time of its own: its alignment ran out, and it sits
wherever the next timestamp fell, often at the next speech after a pause ("door." of a turn
that ended 3 s earlier, measured). It shares the span of the word before it in its utterance,
split by their letters; after the end of a sentence, the word after it (the decoder had begun
the next sentence: "guilty. Let | us keep", measured). And the first word heard in each VAD
segment begins where the segment does: after a silence, Whisper begins a sentence's first
word 0.3-0.4 s after its speech starts (measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from analysis.voice.vad import SpeechSegment

if TYPE_CHECKING:
    from analysis.text.transcribe import Utterance, Word

SAMPLE_RATE_HZ = 16000
MAX_REGION_S = 28.0  # speech packed into one region stays inside Whisper's 30 s window
MAX_GAP_IN_REGION_S = 6.0  # longer silences start a new region instead of being decoded
REGION_PAD_S = 0.2  # context around each region so first and last words are whole
DECODED_PAUSE_S = 0.5  # silences inside a region are cut to this before decoding
COLLAPSED_WORD_S = 0.02  # the decoder's time step: a shorter word was given no duration
SENTENCE_ENDS = (".", "?", "!")
# Whisper begins the first word after a silence late (0.3-0.4 s in generated conversations)
ONSET_LATE_S = 1.0


@dataclass(frozen=True)
class DecodingRegion:
    """A stretch of the recording decoded in one call, and the speech inside it (padded)."""

    start_s: float
    end_s: float
    spans: tuple[tuple[float, float], ...]  # speech, sorted, not overlapping, inside the region
    # the VAD's own segments inside the region, before the decoder's padding
    speech: tuple[tuple[float, float], ...] = ()

    @property
    def bounds(self) -> tuple[float, float]:
        return self.start_s, self.end_s

    def within_speech(self, start_s: float, end_s: float) -> tuple[float, float]:
        """A word's times held inside the VAD segment nearest its middle: Whisper lets a word
        run on into the silence after it (its ends came about 0.1 s late, measured)."""
        if not self.speech:
            return start_s, end_s
        middle = (start_s + end_s) / 2
        begin, end = min(self.speech, key=lambda s: max(s[0] - middle, 0.0, middle - s[1]))
        start = min(max(start_s, begin), end)
        return start, max(start, min(max(end_s, begin), end))


def decoding_regions(
    segments: Sequence[SpeechSegment], duration_s: float | None = None
) -> list[DecodingRegion]:
    groups: list[list[SpeechSegment]] = []
    for seg in segments:
        if (
            groups
            and seg.start_s - groups[-1][-1].end_s <= MAX_GAP_IN_REGION_S
            and seg.end_s - groups[-1][0].start_s <= MAX_REGION_S
        ):
            groups[-1].append(seg)
        else:
            groups.append([seg])
    limit = duration_s if duration_s is not None else float("inf")
    regions = []
    for group in groups:
        start_s = max(0.0, group[0].start_s - REGION_PAD_S)
        end_s = min(limit, group[-1].end_s + REGION_PAD_S)
        spans: list[list[float]] = []
        for seg in group:
            a, b = max(start_s, seg.start_s - REGION_PAD_S), min(end_s, seg.end_s + REGION_PAD_S)
            if spans and a <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], b)
            else:
                spans.append([a, b])
        regions.append(
            DecodingRegion(
                start_s,
                end_s,
                tuple((a, b) for a, b in spans),
                tuple((seg.start_s, seg.end_s) for seg in group),
            )
        )
    return regions


@dataclass(frozen=True)
class ShortenedPauses:
    """A region's audio with its long silences shortened, and the way back to real time."""

    audio: np.ndarray
    # per stretch of kept audio: its start in the shortened audio, its start and end in the
    # recording; between two stretches, DECODED_PAUSE_S of silence stood for a longer one.
    kept: tuple[tuple[float, float, float], ...]

    def real_time(self, t_s: float) -> float:
        """A time in the shortened audio as a time in the recording; a time inside a shortened
        silence goes to the nearer edge of the speech around it."""
        return self.real_span(t_s, t_s)[0]

    def real_span(self, start_s: float, end_s: float) -> tuple[float, float]:
        """A word's times in the shortened audio as times in the recording, inside the one
        stretch of speech that holds its middle (or is nearest to it): a word the decoder drew
        across a shortened silence is not stretched over the real one."""
        middle = (start_s + end_s) / 2

        def distance(stretch: tuple[float, float, float]) -> float:
            at, begin, end = stretch
            return max(at - middle, 0.0, middle - (at + end - begin))

        at, begin, end = min(self.kept, key=distance)
        length = end - begin
        return (
            begin + min(max(start_s - at, 0.0), length),
            begin + min(max(end_s - at, 0.0), length),
        )


def _stretches(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The spans joined where at most DECODED_PAUSE_S of silence lies between them."""
    joined: list[list[float]] = []
    for start_s, end_s in spans:
        if joined and start_s - joined[-1][1] <= DECODED_PAUSE_S:
            joined[-1][1] = end_s
        else:
            joined.append([start_s, end_s])
    return [(a, b) for a, b in joined]


def stretches(region: DecodingRegion) -> list[DecodingRegion]:
    """The region as one region per stretch of its speech (speech parted by more than
    DECODED_PAUSE_S of silence), each holding the VAD segments whose middles lie in it."""
    return [
        DecodingRegion(
            start_s,
            end_s,
            ((start_s, end_s),),
            tuple(s for s in region.speech if start_s <= (s[0] + s[1]) / 2 <= end_s),
        )
        for start_s, end_s in _stretches(region.spans)
    ]


def parts(region: DecodingRegion) -> list[DecodingRegion]:
    """Smaller regions to decode a doubtful region in: its stretches of speech; for a single
    stretch, its VAD segments, each padded by up to REGION_PAD_S but never into another's
    speech; none for a single segment."""
    pieces = stretches(region)
    if len(pieces) > 1:
        return pieces
    speech = region.speech
    if len(speech) < 2:
        return []
    found = []
    for i, (start_s, end_s) in enumerate(speech):
        begin = max(start_s - REGION_PAD_S, region.start_s)
        end = min(end_s + REGION_PAD_S, region.end_s)
        if i > 0:
            begin = max(begin, (speech[i - 1][1] + start_s) / 2)
        if i + 1 < len(speech):
            end = min(end, (end_s + speech[i + 1][0]) / 2)
        found.append(DecodingRegion(begin, end, ((begin, end),), ((start_s, end_s),)))
    return found


def shorten_pauses(
    audio: np.ndarray, region: DecodingRegion, sample_rate: int = SAMPLE_RATE_HZ
) -> ShortenedPauses:
    """The region's audio with every silence between its speech spans that is longer than
    DECODED_PAUSE_S cut to DECODED_PAUSE_S (shorter ones are kept as they are)."""
    pause = np.zeros(round(DECODED_PAUSE_S * sample_rate), dtype=audio.dtype)
    pieces: list[np.ndarray] = []
    kept: list[tuple[float, float, float]] = []
    at_samples = 0
    for start_s, end_s in _stretches(region.spans):
        if pieces:
            pieces.append(pause)
            at_samples += len(pause)
        begin = round((start_s - region.start_s) * sample_rate)
        piece = audio[begin : round((end_s - region.start_s) * sample_rate)]
        kept.append((at_samples / sample_rate, start_s, start_s + len(piece) / sample_rate))
        pieces.append(piece)
        at_samples += len(piece)
    return ShortenedPauses(np.concatenate(pieces) if pieces else audio[:0], tuple(kept))


def in_real_time(
    utterances: Sequence[Utterance],
    shortened: ShortenedPauses,
    region: DecodingRegion,
    *,
    place_words: bool = True,
) -> list[Utterance]:
    """The utterances decoded from `shortened` audio, in the recording's time. With
    `place_words` (the default; False only for the timing benchmark's baseline), a word given
    no duration shares the span of its timed neighbour, and the first word heard in a stretch
    of speech begins where the speech does."""

    def timed(w: Word) -> Word:
        start_s, end_s = region.within_speech(*shortened.real_span(w.start_s, w.end_s))
        return replace(w, start_s=start_s, end_s=max(start_s, end_s))

    said = [tuple(timed(w) for w in utterance.words) for utterance in utterances]
    if place_words:
        said = [
            _beside_their_neighbours(words, [w.end_s - w.start_s < COLLAPSED_WORD_S for w in raw])
            for words, raw in zip(said, (u.words for u in utterances), strict=True)
        ]
        said = _from_the_onsets(said, region.speech)
    result = []
    for utterance, words in zip(utterances, said, strict=True):
        start_s = words[0].start_s if words else shortened.real_time(utterance.start_s)
        end_s = words[-1].end_s if words else shortened.real_time(utterance.end_s)
        result.append(replace(utterance, start_s=start_s, end_s=max(start_s, end_s), words=words))
    return result


def _from_the_onsets(
    said: Sequence[tuple[Word, ...]], speech: Sequence[tuple[float, float]]
) -> list[tuple[Word, ...]]:
    """Each utterance's words, the first word heard in each VAD segment beginning where the
    segment does when the decoder began it at most `ONSET_LATE_S` later."""
    placed = [list(words) for words in said]
    starts = [(w.start_s, u, i) for u, words in enumerate(placed) for i, w in enumerate(words)]
    for begin, end in speech:
        inside = [start for start in starts if begin <= start[0] <= end]
        if inside:
            start_s, u, i = min(inside)
            if start_s - begin <= ONSET_LATE_S:
                placed[u][i] = replace(placed[u][i], start_s=begin)
    return [tuple(words) for words in placed]


def _beside_their_neighbours(words: Sequence[Word], collapsed: Sequence[bool]) -> tuple[Word, ...]:
    """Each collapsed word shares the span of a timed neighbour, split in proportion to the
    words' letters: the word before it, unless that word ends a sentence; then the word after
    it, which the decoder's next sentence begins with. A collapsed word with no such neighbour
    keeps the decoder's time: nothing else says where it was spoken."""
    groups: list[list[int]] = []  # each holds one timed word and the collapsed words it times
    waiting: list[int] = []  # collapsed words that go with the next timed word
    for i, gone in enumerate(collapsed):
        if not gone:
            groups.append([*waiting, i])
            waiting = []
        elif groups and not waiting and not words[i - 1].text.rstrip().endswith(SENTENCE_ENDS):
            groups[-1].append(i)
        else:
            waiting.append(i)
    placed = list(words)
    for group in groups:
        anchor = next(i for i in group if not collapsed[i])
        start_s, end_s = words[anchor].start_s, words[anchor].end_s
        letters = np.array([max(1, len(words[i].text.strip())) for i in group], dtype=float)
        shares = np.concatenate([[0.0], np.cumsum(letters)]) / letters.sum()
        edges = start_s + (end_s - start_s) * shares
        for k, i in enumerate(group):
            placed[i] = replace(words[i], start_s=float(edges[k]), end_s=float(edges[k + 1]))
    return tuple(placed)
