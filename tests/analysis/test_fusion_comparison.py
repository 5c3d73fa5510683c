"""Telling a fusion's shortfall on one recording that is chance from one that is not."""

from __future__ import annotations

import numpy as np

from analysis.fusion_fit import WonAndLost, expected_below_by_chance, windows_won_and_lost


def _rows(labels: list[int]) -> list[dict[str, object]]:
    return [{"label": label, "window": i} for i, label in enumerate(labels)]


def _says(label: int) -> np.ndarray:
    probs = np.full(7, 0.01)
    probs[label] = 0.94
    return probs


def test_one_window_lost_is_chance_and_six_lost_with_none_won_is_not():
    rows = _rows([0, 1, 2, 3, 4, 5, 6, 0])
    right = lambda row: _says(row["label"])  # noqa: E731
    wrong = lambda row: _says((row["label"] + 1) % 7)  # noqa: E731

    one_off = lambda row: wrong(row) if row["window"] == 0 else right(row)  # noqa: E731
    assert windows_won_and_lost(rows, one_off, right) == WonAndLost(won=0, lost=1, p=1.0)

    six_off = lambda row: wrong(row) if row["window"] < 6 else right(row)  # noqa: E731
    paired = windows_won_and_lost(rows, six_off, right)
    assert (paired.won, paired.lost) == (0, 6)
    assert paired.p < 0.05


def test_a_window_with_no_reading_counts_as_wrong():
    rows = _rows([3, 3])
    nothing = lambda row: None  # noqa: E731
    paired = windows_won_and_lost(rows, lambda row: _says(3), nothing)
    assert (paired.won, paired.lost) == (2, 0)


def test_a_fusion_right_four_times_in_five_still_falls_below_on_short_recordings_by_chance():
    # Each recording: fusion and its best channel disagree on a few windows, fusion right in
    # four of five of them over all recordings, as on the labelled recordings.
    short = [WonAndLost(won=4, lost=1, p=0.375)] * 48
    longer = [WonAndLost(won=16, lost=4, p=0.012)] * 48
    never_loses = [WonAndLost(won=5, lost=0, p=0.0625)] * 48

    # P(3 or more of 5 lost at 1 in 5) is 0.058: about 2.8 of 48 recordings below
    assert expected_below_by_chance(short) == 2.78
    # with four times the disagreements per recording, at the same share lost: 0.03
    assert expected_below_by_chance(longer) < 0.05
    assert expected_below_by_chance(never_loses) == 0.0
