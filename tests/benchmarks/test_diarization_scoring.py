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
