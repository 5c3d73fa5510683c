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
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.voice.speakers import VoicePiece
from analysis.voice.vad import SpeechProbabilities, VadOptions, segments_from_probabilities
from benchmarks._conversations import Conversation
from benchmarks.common import Row, print_rows, write_result
from benchmarks.diarization import RATE_HZ, conversations, error_rate

THRESHOLDS = (0.5, 0.4, 0.3, 0.2)
PADS_S = (0.05, 0.1, 0.2)
END_BELOW = 0.15  # neg_threshold = threshold - END_BELOW, as Silero's own default keeps it
ROOM_TONE_DBFS = -55.0
CHOOSING_SEEDS = 1000  # the conversations the setting is chosen on start at this seed
SHIPPED = "shipped (threshold 0.5, pad 0.05 s)"


@dataclass(frozen=True)
class Heard:
    """One recording's frame probabilities, read once and scored for every setting."""

    conversation: Conversation
    room_tone: bool
    probabilities: np.ndarray


def with_room_tone(audio: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(audio))
    noise = np.convolve(noise, np.ones(8) / 8, mode="same")  # less hiss above 2 kHz, as a room
    scale = 10 ** (ROOM_TONE_DBFS / 20) / np.sqrt(np.mean(noise**2))
    return (audio + scale * noise).astype(np.float32)


def hear(chosen: Sequence[Conversation]) -> list[Heard]:
    heard = []
    for number, conversation in enumerate(chosen):
        for room_tone in (False, True):
            audio = with_room_tone(conversation.audio, number) if room_tone else conversation.audio
            tracker = SpeechProbabilities()
            tracker.feed(0.0, audio)
            heard.append(Heard(conversation, room_tone, tracker.result()))
    return heard


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
    choosing = hear(one_and_two_voices(args.quick, CHOOSING_SEEDS))
    reported = hear(one_and_two_voices(args.quick, 0))
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
    write_result(
        "speech_threshold",
        rows,
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
