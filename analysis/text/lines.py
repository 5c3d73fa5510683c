"""The text stage: transcript lines split between speakers, and each line scored from its words.

Whisper's utterances know nothing of speakers; the voice stage's pieces say who spoke when. A
line is split where the speaker changes between its words, so no line holds two people's
words, and every line — whoever spoke it — is scored by VADER and the emotion head, its valence
read as chosen on EmoBank dev. Which lines count (the client's) is fusion's business.
"""

from __future__ import annotations

from collections.abc import Sequence

from analysis.stage_outputs import SpokenPiece, TextLine, TextOutput
from analysis.text.transcribe import Utterance, Word, split_words

ROUND_DIGITS = 4


def speaker_of(start_s: float, end_s: float, pieces: Sequence[SpokenPiece]) -> str | None:
    """Who spoke most between `start_s` and `end_s`; None when nobody did."""
    overlaps: dict[str, float] = {}
    for piece in pieces:
        share = max(0.0, min(end_s, piece.end_s) - max(start_s, piece.start_s))
        if share > 0:
            overlaps[piece.speaker] = overlaps.get(piece.speaker, 0.0) + share
    return max(overlaps, key=overlaps.__getitem__) if overlaps else None


def lines_by_speaker(
    utterances: Sequence[Utterance], pieces: Sequence[SpokenPiece]
) -> list[tuple[Utterance, str | None]]:
    """Each utterance with its speaker, split where the speaker changes between its words. A word
    heard in no speaker's piece goes with the word before it (or, at the start, the first word
    that has a speaker)."""
    result: list[tuple[Utterance, str | None]] = []
    for utterance in utterances:
        if not utterance.words:
            result.append((utterance, speaker_of(utterance.start_s, utterance.end_s, pieces)))
            continue
        heard = [speaker_of(w.start_s, w.end_s, pieces) for w in utterance.words]
        known = [s for s in heard if s is not None]
        current = known[0] if known else None
        groups: list[list[Word]] = []
        speakers: list[str | None] = []
        for word, speaker in zip(utterance.words, heard, strict=True):
            speaker = speaker if speaker is not None else current
            if not groups or speaker != current:
                groups.append([])
                speakers.append(speaker)
            groups[-1].append(word)
            current = speaker
        result.extend(zip(split_words(utterance, groups), speakers, strict=True))
    return result


def scored_lines(utterances: Sequence[Utterance], pieces: Sequence[SpokenPiece]) -> TextOutput:
    from analysis.text.emotion import text_emotions
    from analysis.text.sentiment import sentiment
    from analysis.text.valence import shipped_choice
    from analysis.weights.speech import MINILM, TEXT_EMOTION_HEAD, VADER

    choice = shipped_choice()
    split = lines_by_speaker(utterances, pieces)
    emotions = text_emotions([utterance.text for utterance, _ in split])
    lines = []
    for (utterance, speaker), emotion in zip(split, emotions, strict=True):
        polarity = sentiment(utterance.text)
        lines.append(
            TextLine(
                utterance=utterance,
                speaker=speaker,
                sentiment=dict(polarity),
                emotions=emotion.probs,
                valence=round(choice.valence(emotion.valence, polarity["compound"]), ROUND_DIGITS),
                arousal=emotion.arousal,
            )
        )
    return TextOutput(
        valence_source=choice.source,
        lines=tuple(lines),
        models=tuple(s.to_provenance() for s in (VADER, MINILM, TEXT_EMOTION_HEAD)),
    )


def load_text_models() -> None:
    """Load what scoring the lines loads on first use (MiniLM takes seconds): the sentence
    encoder, the emotion head, VADER and the valence choice."""
    from analysis.text.emotion import text_emotions
    from analysis.text.sentiment import sentiment
    from analysis.text.valence import shipped_choice

    text_emotions(["Hello."])
    sentiment("Hello.")
    shipped_choice()
