"""Speech missed and added by the speech detector, by its threshold and padding.

    python -m benchmarks.speech_threshold [--quick]

What is left of the two-voice diarization error without a collar is mostly speech the detector
does not hear (benchmarks/diarization.py). This asks whether the detector's settings could win it
back. Conversations of one and two voices are made as the diarization benchmark makes them,
and each is heard twice: as made (digital silence between turns) and with a quiet room's hiss
added throughout (broadband noise at -55 dBFS RMS). Silero's frame probabilities are read once
per recording; the speech segments of each setting (threshold, the end of speech 0.15 under it,
and padding) are then scored on 10 ms frames against the reference turns: missed speech plus
false alarm, as shares of the reference speech, with no collar.

The setting is chosen on one set of conversations (other seeds) and reported on the set the
diarization benchmark reports, so the choice is not fitted to the figures it is judged by.
Every row's baseline is the shipped setting (`VadOptions()`), measured in the same run.

The speech detector brings a quiet recording up before it reads it (`VadOptions.loud_dbfs`,
at most `max_gain_db`). The reported conversations are also read brought up and as recorded
(before), as made, with room hiss, and as a far microphone hears them: 20, 30 and 40 dB
quieter in a room whose hiss is not; and a minute of room hiss alone at three loudnesses, where
any speech found is false.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from analysis.voice.speakers import VoicePiece
from analysis.voice.vad import SpeechProbabilities, VadOptions, segments_from_probabilities
from benchmarks._conversations import Conversation, room_hiss, with_room_tone
from benchmarks.common import Row, print_rows, write_result
from benchmarks.diarization import RATE_HZ, conversations, error_rate

THRESHOLDS = (0.5, 0.4, 0.3, 0.2)
PADS_S = (0.05, 0.1, 0.2)
END_BELOW = 0.15  # neg_threshold = threshold - END_BELOW, as Silero's own default keeps it
CHOOSING_SEEDS = 1000  # the conversations the setting is chosen on start at this seed
SHIPPED = "shipped (threshold 0.5, pad 0.05 s)"
AS_RECORDED = VadOptions(max_gain_db=0.0)  # the detector before it brought audio up
QUIETER_DB = (20.0, 30.0, 40.0)  # how much quieter a far microphone hears the conversation
FAR_HISS_DBFS = -60.0  # the room's hiss, as loud at any distance
HISS_DBFS = (-65.0, -55.0, -45.0)
HISS_S = 60.0


@dataclass(frozen=True)
class Heard:
    """One recording's frame probabilities, read once and scored for every setting."""

    conversation: Conversation
    room_tone: bool
    probabilities: np.ndarray


def in_room(chosen: Sequence[Conversation]) -> list[Conversation]:
    """The conversations with a quiet room's hiss added, each with its own noise."""
    return [replace(c, audio=with_room_tone(c.audio, n)) for n, c in enumerate(chosen)]


def hear(chosen: Sequence[Conversation]) -> list[Heard]:
    """Each conversation's probabilities as made and with room tone."""
    shipped = VadOptions()
    return [
        *heard_once(chosen, shipped, room_tone=False),
        *heard_once(in_room(chosen), shipped, room_tone=True),
    ]


def speech_in_hiss(level: VadOptions) -> float:
    """Seconds of speech found in a minute of room hiss alone, over HISS_DBFS."""
    found = 0.0
    for number, dbfs in enumerate(HISS_DBFS):
        tracker = SpeechProbabilities(level)
        tracker.feed(0.0, room_hiss(round(HISS_S * RATE_HZ), number, dbfs))
        segments = segments_from_probabilities(tracker.result(), level)
        found += sum(s.duration_s for s in segments)
    return found


def from_afar(chosen: Sequence[Conversation], quieter_db: float) -> list[Conversation]:
    """The conversations `quieter_db` quieter, in a room whose hiss is not (a far microphone)."""
    scale = np.float32(10 ** (-quieter_db / 20))
    return [
        replace(c, audio=c.audio * scale + room_hiss(len(c.audio), number, FAR_HISS_DBFS))
        for number, c in enumerate(chosen)
    ]


def heard_once(
    chosen: Sequence[Conversation], level: VadOptions, *, room_tone: bool
) -> list[Heard]:
    """Each conversation's probabilities as it is, read at `level`'s gain."""
    heard = []
    for conversation in chosen:
        tracker = SpeechProbabilities(level)
        tracker.feed(0.0, conversation.audio)
        heard.append(Heard(conversation, room_tone, tracker.result()))
    return heard


def level_rows(reported: Sequence[Conversation]) -> list[Row]:
    """Speech missed and added with the audio brought up (shipped) beside read as recorded: as
    made, in room hiss, from afar at each of QUIETER_DB; and speech found in hiss alone."""
    shipped = VadOptions()
    sets = {"as made": list(reported), "with room tone": in_room(reported)}
    sets |= {f"{db:g} dB quieter, in hiss at {FAR_HISS_DBFS:g} dBFS": from_afar(reported, db)
             for db in QUIETER_DB}  # fmt: skip
    rows: list[Row] = []
    for where, members in sets.items():
        hiss = where != "as made"
        now = speech_errors(heard_once(members, shipped, room_tone=hiss), shipped)
        before = speech_errors(heard_once(members, AS_RECORDED, room_tone=hiss), shipped)
        for metric, value, baseline in (
            ("missed", now.missed, before.missed),
            ("false alarm", now.false_alarm, before.false_alarm),
            ("missed + false alarm", now.total, before.total),
        ):
            rows.append(
                Row(
                    f"{len(members)} recordings, {where}",
                    f"{metric}, brought up to {shipped.loud_dbfs:g} dBFS",
                    round(value, 4),
                    baseline="read as recorded (before)",
                    baseline_value=round(baseline, 4),
                )
            )
    rows.append(
        Row(
            f"{HISS_S:.0f} s of room hiss alone at each of {list(HISS_DBFS)} dBFS",
            "seconds of speech found, brought up",
            round(speech_in_hiss(shipped), 2),
            baseline="read as recorded (before)",
            baseline_value=round(speech_in_hiss(AS_RECORDED), 2),
        )
    )
    return rows


def setting(threshold: float, pad_s: float) -> VadOptions:
    return VadOptions(
        threshold=threshold, neg_threshold=round(threshold - END_BELOW, 3), speech_pad_s=pad_s
    )


@dataclass(frozen=True)
class SpeechError:
    """Shares of the reference speech over a set of recordings."""

    missed: float
    false_alarm: float

    @property
    def total(self) -> float:
        return self.missed + self.false_alarm


def speech_errors(heard: Sequence[Heard], options: VadOptions) -> SpeechError:
    """Missed speech and false alarm over all `heard`, as shares of their reference speech."""
    missed = false_alarm = speech = 0.0
    for one in heard:
        duration_s = len(one.conversation.audio) / RATE_HZ
        segments = segments_from_probabilities(one.probabilities, options, duration_s=duration_s)
        pieces = [VoicePiece(s.start_s, s.end_s, (), (), None) for s in segments]
        scored = error_rate(one.conversation, pieces, ["speech"] * len(pieces))
        reference_s = sum(t.end_s - t.start_s for t in one.conversation.turns)
        missed += scored["missed"] * reference_s
        false_alarm += scored["false_alarm"] * reference_s
        speech += reference_s
    return SpeechError(missed / speech, false_alarm / speech)


def one_and_two_voices(quick: bool, first_seed: int) -> list[Conversation]:
    return [c for c in conversations(quick, first_seed) if len({t.speaker for t in c.turns}) <= 2]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speech_threshold")
    parser.add_argument("--quick", action="store_true", help="fewer conversations")
    args = parser.parse_args(argv)
    reported_set = one_and_two_voices(args.quick, 0)
    choosing, reported = hear(one_and_two_voices(args.quick, CHOOSING_SEEDS)), hear(reported_set)
    settings = {
        (threshold, pad_s): setting(threshold, pad_s)
        for threshold, pad_s in itertools.product(THRESHOLDS, PADS_S)
    }
    # The choice must hold with room hiss and without: it is judged on both at once.
    on_choosing = {key: speech_errors(choosing, options).total for key, options in settings.items()}
    chosen = min(on_choosing, key=on_choosing.__getitem__)
    shipped = VadOptions()
    rows: list[Row] = []
    details: dict[str, dict[str, dict[str, float]]] = {}
    for room_tone in (False, True):
        where = "with room tone" if room_tone else "digital silence between turns"
        mine = [h for h in reported if h.room_tone == room_tone]
        baseline = speech_errors(mine, shipped).total
        for (threshold, pad_s), options in settings.items():
            errors = speech_errors(mine, options)
            details.setdefault(f"threshold {threshold}, pad {pad_s} s", {})[where] = {
                "missed": round(errors.missed, 4),
                "false_alarm": round(errors.false_alarm, 4),
                "total": round(errors.total, 4),
            }
            rows.append(
                Row(
                    f"{len(mine)} recordings, {where}",
                    f"missed + false alarm, threshold {threshold}, pad {pad_s} s",
                    round(errors.total, 4),
                    baseline=SHIPPED,
                    baseline_value=round(baseline, 4),
                    note="chosen on other conversations" if (threshold, pad_s) == chosen else "",
                )
            )
    print_rows("Speech detection by threshold and padding, no collar", rows)
    by_level = level_rows(reported_set)
    print_rows("Speech detection with a quiet batch brought up, no collar", by_level)
    write_result(
        "speech_threshold",
        [*rows, *by_level],
        {
            "chosen": {"threshold": chosen[0], "pad_s": chosen[1]},
            "on_choosing_conversations": {
                f"threshold {k[0]}, pad {k[1]} s": round(v, 4) for k, v in on_choosing.items()
            },
            "reported": details,
            "recordings": {"choosing": len(choosing), "reported": len(reported)},
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
