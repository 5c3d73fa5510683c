"""The diarization benchmark's scoring: speech missed, added or given to the wrong voice, with
and without NIST's forgiveness collar around each reference turn's edges."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.voice.speakers import VoicePiece
from benchmarks._conversations import Conversation, Turn
from benchmarks.diarization import error_rate

TURNS = (Turn("A", 1.0, 3.0, "first"), Turn("B", 4.0, 6.0, "second"))
CONVERSATION = Conversation("two voices", np.zeros(7 * 16000, np.float32), TURNS)


def piece(start_s: float, end_s: float) -> VoicePiece:
    return VoicePiece(start_s, end_s, channel_db=(), timbre=(), f0_median_hz=None)


def test_edges_heard_a_little_late_cost_only_without_a_collar() -> None:
    late = [piece(1.1, 3.0), piece(4.1, 6.0)]  # each turn's first 0.1 s missed

    strict = error_rate(CONVERSATION, late, ["x", "y"])
    forgiving = error_rate(CONVERSATION, late, ["x", "y"], collar_s=0.25)

    assert strict["missed"] == pytest.approx(0.05, abs=0.005)  # 0.2 s of 4 s, to a frame
    assert strict["confusion"] == 0
    assert forgiving["der"] == 0


def test_a_turn_given_to_the_wrong_voice_counts_whatever_the_collar() -> None:
    merged = [piece(1.0, 3.0), piece(4.0, 6.0)]

    for collar_s in (0.0, 0.25):
        result = error_rate(CONVERSATION, merged, ["x", "x"], collar_s=collar_s)
        assert result["confusion"] == pytest.approx(0.5)
        assert result["missed"] == result["false_alarm"] == 0


def test_a_lower_threshold_hears_a_soft_turn_that_the_shipped_one_misses() -> None:
    from analysis.voice.vad import FRAME_S, VadOptions
    from benchmarks.speech_threshold import Heard, setting, speech_errors

    # Silero sure of the first turn, and only 35 % sure of the second, a whispered one
    probabilities = np.zeros(int(7 / FRAME_S), np.float32)
    probabilities[int(1.0 / FRAME_S) : int(3.0 / FRAME_S)] = 0.9
    probabilities[int(4.0 / FRAME_S) : int(6.0 / FRAME_S)] = 0.35
    heard = [Heard(CONVERSATION, False, probabilities)]

    shipped = speech_errors(heard, VadOptions())
    lower = speech_errors(heard, setting(0.3, 0.05))

    assert shipped.missed == pytest.approx(0.5, abs=0.03)  # the whispered turn, 2 s of 4 s
    assert shipped.false_alarm < 0.05
    assert lower.total < 0.05  # only a frame or a pad's width at the edges
