"""Transcript timing against known turns: do words and lines land where they were spoken?

    python -m benchmarks.transcript_timing [--quick]

Generated conversations (benchmarks/_conversations.py: espeak-ng voices, and RAVDESS actors
01-08 when shared/data is present) are transcribed by the default engine on VAD speech, as the
transcript stage does, and each word is given to the turn whose words it matches
(benchmarks/_word_turns.py: matched by time alone, a word timed seconds late looks right in the
next turn). Reported: how far each turn's first word starts from the turn's start and its last
word ends from its end (line times), how far words lie outside the speech of their turn (word
times), and transcript lines holding words of two turns a second or more apart (turns closer
than that are split by speaker in fusion, which knows who spoke; tests/analysis/test_fusion.py).
Beside each, in the same run, the same conversations decoded as the stage did before: with every
region's decode trusted whole (`check_decodes=False`: no text heard nowhere dropped, no doubtful
region decoded again in its parts), with every word where the decoder's own times put it as
well (`place_words=False`: no word placed beside its neighbour or moved to the onset of its
speech), and with their silences kept whole (`keep_pauses`). A region's first decode is read once
for all of them (`DecodedOnce`), so they differ in what is done with it; the Whisper decodes
each asked for are counted, with the seconds they took (whichever setting asked first).
Targets: line and word times within 0.3 s, median <= 0.15 s, p95 <= 0.5 s; no line spans
two turns a second apart.

Who said each line: the voice stage's own steps (benchmarks/diarization.py: VAD, pieces,
voiceprints, `assign_speakers`) give each piece a speaker, and the lines are split between
speakers as the text stage splits them (`lines_by_speaker`). Reported: lines still holding two
people's words, and the share of words given to the wrong person (speakers matched one-to-one
to the voices), beside the same with the GE2E encoder's voiceprints, as before, in the same
run. Target: no line holds two people's words.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.stage_outputs import SpokenPiece
from analysis.text.lines import lines_by_speaker
from analysis.text.transcribe import (
    UTTERANCE_PAUSE_S,
    TranscriptEngine,
    TranscriptModel,
    Utterance,
    get_engine,
    transcribe_speech,
)
from analysis.voice.speakers import SpeakerOptions, VoicePiece, assign_speakers
from analysis.voice.vad import detect_speech
from analysis.weights.registry import ModelSpec
from benchmarks import diarization
from benchmarks._conversations import (
    Conversation,
    espeak_conversation,
    ravdess_conversation,
)
from benchmarks._word_turns import seconds_outside, turns_of_words
from benchmarks.common import Row, print_rows, write_result

NOW, BEFORE = "pauses shortened", "pauses kept (before)"
TRUSTED = "every decode trusted whole (before)"
AS_DECODED = "words where the decoder timed them (before)"
SETTINGS = {
    NOW: {},
    TRUSTED: {"check_decodes": False},
    AS_DECODED: {"place_words": False, "check_decodes": False},
    BEFORE: {"keep_pauses": True},
}
# how each clustering is named here -> its name in benchmarks/diarization.py
SPEAKERS = {"CAM++ voiceprints": diarization.NOW, "GE2E voiceprints (before)": diarization.BEFORE}


@dataclass
class DecodedOnce:
    """An engine that decodes each piece of audio once: transcripts that differ only in what is
    done with a region's decode read the same decode (Whisper's fallback sampling would otherwise
    give them different text, and the comparison would be of decodes, not of what is done with
    them). It counts the decodes asked for, and the seconds they took."""

    engine: TranscriptEngine = field(default_factory=get_engine)
    decoded: dict[tuple[str, float, str | None], tuple[list[Utterance], float]] = field(
        default_factory=dict
    )
    calls: int = 0  # decodes asked for, whether read again or not
    seconds: float = 0.0  # what the decodes asked for took, whoever asked first
    name: str = field(init=False)
    model: TranscriptModel = field(init=False)

    def __post_init__(self) -> None:
        self.name, self.model = self.engine.name, self.engine.model

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return self.engine.models

    def transcribe(
        self, audio: np.ndarray, offset_s: float, prompt: str | None = None
    ) -> list[Utterance]:
        self.calls += 1
        key = (hashlib.sha256(audio.tobytes()).hexdigest(), offset_s, prompt)
        if key not in self.decoded:
            began = time.perf_counter()
            heard = self.engine.transcribe(audio, offset_s, prompt)
            self.decoded[key] = heard, time.perf_counter() - began
        heard, seconds = self.decoded[key]
        self.seconds += seconds
        return heard


def transcribe(
    conversation: Conversation,
    *,
    keep_pauses: bool = False,
    place_words: bool = True,
    check_decodes: bool = True,
    engine: TranscriptEngine | None = None,
) -> list[Utterance]:
    audio = conversation.audio
    segments = detect_speech([(0.0, audio)])
    found = transcribe_speech(
        [(0.0, audio)],
        segments,
        engine or get_engine(),
        keep_pauses=keep_pauses,
        place_words=place_words,
        check_decodes=check_decodes,
    )
    return [u for _end, utterances in found for u in utterances]


def timing(conversation: Conversation, utterances: Sequence[Utterance]) -> dict[str, Any]:
    turns = conversation.turns
    owner, exact = turns_of_words(conversation, [w for u in utterances for w in u.words])
    owned = iter(owner)
    boundary: list[float] = []
    outside: list[float] = []
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    spanning = 0
    for utterance in utterances:
        owners = set()
        for word in utterance.words:
            k = next(owned)
            owners.add(k)
            turn = turns[k]
            outside.append(seconds_outside(turn, word))
            first[k] = min(first.get(k, word.start_s), word.start_s)
            last[k] = max(last.get(k, word.end_s), word.end_s)
        ordered = sorted(owners)
        spanning += any(
            turns[b].start_s - turns[a].end_s >= UTTERANCE_PAUSE_S
            for a, b in itertools.pairwise(ordered)
        )
    for k, turn in enumerate(turns):
        if k in first:
            boundary += [abs(first[k] - turn.start_s), abs(last[k] - turn.end_s)]
    return {
        "boundary_errors_s": boundary,
        "word_outside_s": outside,
        "lines_spanning_turns": spanning,
        "lines": len(utterances),
        "words": len(owner),
        "words_matched": exact,
        "turns_heard": len(first),
        "turns": len(turns),
    }


def spoken_pieces(pieces: Sequence[VoicePiece], options: SpeakerOptions) -> list[SpokenPiece]:
    """The speech pieces (`voice_pieces`), each with the speaker the voice stage would give it."""
    labels = assign_speakers(pieces, options=options).piece_speakers
    return [
        SpokenPiece(piece.start_s, piece.end_s, label, piece.channel_db, None)
        for piece, label in zip(pieces, labels, strict=True)
    ]


def attribution(
    conversation: Conversation, utterances: Sequence[Utterance], pieces: Sequence[SpokenPiece]
) -> dict[str, int]:
    """Lines (split between speakers) holding two people's words, and words given to the wrong
    person, speakers matched one-to-one to the voices that spoke most of their words."""
    from scipy.optimize import linear_sum_assignment

    turns = conversation.turns
    voices = sorted({t.speaker for t in turns})
    heard: list[tuple[str, str | None]] = []  # (who said the word, whose line it is in)
    spanning = 0
    lines = lines_by_speaker(utterances, pieces)
    owner, _ = turns_of_words(conversation, [w for line, _ in lines for w in line.words])
    owned = iter(owner)
    for line, speaker in lines:
        said_by = [turns[next(owned)].speaker for _ in line.words]
        spanning += len(set(said_by)) > 1
        heard += [(voice, speaker) for voice in said_by]
    found = sorted({speaker for _, speaker in heard if speaker is not None})
    counts = np.zeros((len(voices), max(1, len(found))))
    for voice, speaker in heard:
        if speaker is not None:
            counts[voices.index(voice), found.index(speaker)] += 1
    rows, cols = linear_sum_assignment(-counts)
    return {
        "lines_spanning_speakers": spanning,
        "words": len(heard),
        "words_wrong_speaker": len(heard) - int(counts[rows, cols].sum()),
    }


def _figures(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    boundary = np.concatenate([r["boundary_errors_s"] for r in results])
    outside = np.concatenate([r["word_outside_s"] for r in results])
    return {
        "line_median_s": round(float(np.median(boundary)), 3),
        "line_p95_s": round(float(np.percentile(boundary, 95)), 3),
        "line_max_s": round(float(boundary.max()), 3),
        "line_within_0.3s": round(float(np.mean(boundary <= 0.3)), 3),
        "word_outside_median_s": round(float(np.median(outside)), 3),
        "word_outside_p95_s": round(float(np.percentile(outside, 95)), 3),
        "word_outside_max_s": round(float(outside.max()), 3),
        "lines_spanning_turns": int(sum(r["lines_spanning_turns"] for r in results)),
        "words_matched": round(
            sum(r["words_matched"] for r in results) / max(1, sum(r["words"] for r in results)), 3
        ),
        "turns_heard": int(sum(r["turns_heard"] for r in results)),
        "turns": int(sum(r["turns"] for r in results)),
        "decoder_calls": int(sum(r["decoder_calls"] for r in results)),
        "decoding_s": round(sum(r["decoding_s"] for r in results), 1),
    }


def _compared(
    case: str,
    now: dict[str, float],
    before: dict[str, float],
    baseline: str,
    notes: dict[str, str],
) -> list[Row]:
    """A row per metric in `notes`: its figure now beside `baseline`'s, with its note."""
    return [
        Row(case, metric, now[metric], baseline=baseline, baseline_value=before[metric], note=note)
        for metric, note in notes.items()
    ]


def conversations(quick: bool) -> list[Conversation]:
    seeds = range(2) if quick else range(6)
    found = [espeak_conversation(seed, speakers=1 + seed % 3) for seed in seeds]
    try:
        pairs = [(1, 2), (3, 4)] if quick else [(1, 2), (3, 4), (5, 6), (7, 8), (2, 5), (4, 7)]
        found += [ravdess_conversation(10 + i, actors=pair) for i, pair in enumerate(pairs)]
    except FileNotFoundError as missing:
        print(f"RAVDESS left out: {missing}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four conversations, not twelve")
    args = parser.parse_args()
    chosen = conversations(args.quick)
    engine = DecodedOnce()
    transcripts: dict[str, list[list[Utterance]]] = {name: [] for name in SETTINGS}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in SETTINGS}
    for name, setting in SETTINGS.items():
        for c in chosen:
            calls, seconds = engine.calls, engine.seconds
            lines = transcribe(c, engine=engine, **setting)
            transcripts[name].append(lines)
            results[name].append(
                timing(c, lines)
                | {"decoder_calls": engine.calls - calls, "decoding_s": engine.seconds - seconds}
            )
    sources = {"all": chosen} | {
        source: [c for c in chosen if c.name.startswith(source)] for source in ("espeak", "RAVDESS")
    }

    def of(name: str, members: list[Conversation]) -> dict[str, float]:
        names = {c.name for c in members}
        return _figures([r for c, r in zip(chosen, results[name], strict=True) if c.name in names])

    heard = [diarization.voiceprinted(c, diarization.voice_pieces(c), {}) for c in chosen]
    attributed = {
        name: [
            attribution(c, lines, spoken_pieces(pieces[encoder], diarization.OPTIONS[encoder]))
            for c, lines, pieces in zip(chosen, transcripts[NOW], heard, strict=True)
        ]
        for name, encoder in SPEAKERS.items()
    }

    def speakers_of(name: str, members: list[Conversation]) -> dict[str, float]:
        names = {c.name for c in members}
        runs = [r for c, r in zip(chosen, attributed[name], strict=True) if c.name in names]
        words = sum(r["words"] for r in runs)
        return {
            "lines holding two people's words": sum(r["lines_spanning_speakers"] for r in runs),
            "share of words given to the wrong person": round(
                sum(r["words_wrong_speaker"] for r in runs) / max(1, words), 4
            ),
        }

    timing_notes = {
        "line_median_s": "target <= 0.15",
        "line_p95_s": "target <= 0.5",
        "line_max_s": "",
        "line_within_0.3s": "",
        "word_outside_median_s": "target <= 0.15",
        "word_outside_p95_s": "target <= 0.5",
        "word_outside_max_s": "",
        "lines_spanning_turns": "target 0",
        "words_matched": "share of words matching their turn's words",
        "turns_heard": "",
        "decoder_calls": "Whisper decodes: a region each, and each stretch of a doubtful one",
        "decoding_s": "the seconds those decodes took",
    }
    campplus, ge2e = SPEAKERS
    speaker_notes = {
        "lines holding two people's words": "target 0",
        "share of words given to the wrong person": "",
    }
    present = {source: members for source, members in sources.items() if members}
    rows = [
        row
        for source, members in present.items()
        for before in (TRUSTED, AS_DECODED, BEFORE)
        for row in _compared(
            f"{source}: {len(members)} conversations",
            of(NOW, members), of(before, members), before, timing_notes,
        )
    ] + [
        row
        for source, members in present.items()
        for row in _compared(
            f"{source}: {len(members)} conversations, lines split between speakers",
            speakers_of(campplus, members), speakers_of(ge2e, members), ge2e,
            speaker_notes,
        )
    ]  # fmt: skip
    print_rows("Transcript timing against known turns", rows)
    details = {
        "conversations": [c.name for c in chosen],
        "figures": {name: _figures(runs) for name, runs in results.items()},
        "per_conversation": {
            name: [
                {k: v for k, v in r.items() if not k.endswith("_s")} | {"name": c.name}
                for c, r in zip(chosen, runs, strict=True)
            ]
            for name, runs in results.items()
        },
        "speakers": {
            name: [run | {"name": c.name} for c, run in zip(chosen, runs, strict=True)]
            for name, runs in attributed.items()
        },
    }
    write_result("transcript_timing", rows, details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
