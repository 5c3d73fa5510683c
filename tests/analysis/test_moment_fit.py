"""Scoring key moments against recordings whose emotional turns are known."""

from __future__ import annotations

import numpy as np

from analysis.labels import EMOTIONS
from analysis.moment_fit import SEGMENTS, Event, evaluate, events, plan, tally
from analysis.moments import MomentThresholds

HAPPY, SAD, NEUTRAL, ANGRY = (EMOTIONS.index(e) for e in ("happy", "sad", "neutral", "angry"))


def windows(valence: list[float]) -> list[dict]:
    return [
        {
            "start_s": 2.0 * i,
            "end_s": 2.0 * (i + 1),
            "valence": v,
            "arousal": 0.0,
            "confidence": 0.8,
            "modalities": {},
        }
        for i, v in enumerate(valence)
    ]


def test_a_turn_and_a_burst_are_events_and_a_steady_recording_has_none() -> None:
    assert events([SAD] * SEGMENTS) == []
    turning = events([HAPPY] * 6 + [SAD] * 6)
    assert Event("valence", 24.0, 24.0, scored=True) in turning
    assert Event("arousal", 24.0, 24.0, scored=True) in turning  # 0.4 to -0.4 on the circumplex
    burst = events([NEUTRAL] * 5 + [ANGRY] * 2 + [NEUTRAL] * 5)
    # the rise and the fall are one event spanning the burst
    assert Event("valence", 20.0, 28.0, scored=True) in burst
    rng = np.random.default_rng(0)
    assert len(set(plan("steady", rng))) == 1
    assert plan("burst", rng)[5] != NEUTRAL


def test_a_clear_turn_is_found_and_a_flat_recording_raises_no_alarm() -> None:
    labels = [HAPPY] * 6 + [SAD] * 6
    turned = tally(windows([0.6] * 12 + [-0.6] * 12), labels, MomentThresholds())

    assert turned.found == 1  # valence; the flat arousal of these windows finds no arousal turn
    assert turned.events == 2
    assert turned.false_alarms == 0

    steady = tally(windows([0.1] * 24), [SAD] * SEGMENTS, MomentThresholds())
    assert (steady.events, steady.moments, steady.false_alarms) == (0, 0, 0)


def test_a_moment_where_nothing_changed_is_a_false_alarm() -> None:
    spike = [0.0] * 24
    spike[3] = 0.9  # one window at 6-8 s stands out; the recording is steady

    found = tally(windows(spike), [NEUTRAL] * SEGMENTS, MomentThresholds())

    assert found.moments == found.false_alarms == 1
    assert found.figures()["false_alarms_per_minute"] == 1.25  # one in 48 s


def test_the_calibration_chooses_thresholds_that_skip_the_noise_and_keep_the_turns() -> None:
    steady = [0.0] * 24
    steady[5], steady[17] = 0.3, -0.3  # a face photo that reads a little off, twice
    turn = [0.6] * 12 + [-0.6] * 12
    rows = [(windows(steady), [NEUTRAL] * SEGMENTS)] * 4 + [
        (windows(turn), [HAPPY] * 6 + [SAD] * 6)
    ] * 4
    names = ["steady"] * 4 + ["turning"] * 4

    result = evaluate(rows, names, seed=0)

    assert result["hand-set before"]["false_alarms_per_minute"] > 0  # the 0.3 blips are peaks
    assert result["chosen"]["false_alarms_per_minute"] == 0
    assert result["chosen"]["recall"] == result["hand-set before"]["recall"] == 0.5  # valence
    assert result["chosen, cross-validated"]["f1"] == result["chosen"]["f1"]
