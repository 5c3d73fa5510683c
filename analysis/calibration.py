"""Calibration of a classifier's probabilities: does a confidence of 0.8 mean 80 % right?

The timeline shows every emotion with a confidence, so the evaluation commands report not only
accuracy but how far the model's confidence is from its measured accuracy:

- expected calibration error (ECE): predictions grouped into equal-width confidence bins; the
  gap |accuracy - mean confidence| of each bin, weighted by the share of predictions in it;
- maximum calibration error (MCE): the largest such gap over non-empty bins;
- the Brier score (mean squared error of the probability vector against the one-hot truth) and
  the negative log-likelihood, both proper scoring rules;
- the reliability table itself, so a reader sees where the model is over- or under-confident.

With few predictions the bins are sparse and ECE is noisy (it is biased upwards for small n):
the report carries n beside every figure so that nobody reads more into it than was measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_BINS = 10
PROBABILITY_FLOOR = 1e-12  # keeps log(0) out of the negative log-likelihood


def _as_arrays(
    probabilities: Sequence[Sequence[float]] | np.ndarray, truth: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(truth, dtype=np.int64)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"want (n, classes) probabilities and n labels, got {probs.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError("a label is outside the probability columns")
    return probs, labels


def reliability_bins(
    confidences: Sequence[float] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    bins: int = DEFAULT_BINS,
) -> list[dict[str, float | int]]:
    """Equal-width confidence bins over [0, 1]: count, mean confidence and accuracy of each.

    A confidence on a bin edge falls in the lower bin (bins are (low, high]), except 0, which
    falls in the first.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise ValueError("confidences and correct must have the same length")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    table: list[dict[str, float | int]] = []
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        table.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "confidence": float(conf[members].mean()) if count else 0.0,
                "accuracy": float(hits[members].mean()) if count else 0.0,
            }
        )
    return table


def expected_calibration_error(
    confidences: Sequence[float] | np.ndarray,
    correct: Sequence[bool] | np.ndarray,
    bins: int = DEFAULT_BINS,
) -> float:
    """Σ_b (n_b / n) · |accuracy_b − confidence_b| over equal-width bins (0 when n = 0)."""
    table = reliability_bins(confidences, correct, bins)
    total = sum(int(row["count"]) for row in table)
    if total == 0:
        return 0.0
    return float(
        sum(
            int(row["count"]) / total * abs(float(row["accuracy"]) - float(row["confidence"]))
            for row in table
        )
    )


def calibration_report(
    probabilities: Sequence[Sequence[float]] | np.ndarray,
    truth: Sequence[int] | np.ndarray,
    bins: int = DEFAULT_BINS,
) -> dict[str, Any]:
    """ECE, MCE, Brier score, NLL and the reliability table of top-1 predictions."""
    probs, labels = _as_arrays(probabilities, truth)
    n = len(labels)
    if n == 0:
        return {"n": 0, "bins": bins}
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    correct = predicted == labels
    table = reliability_bins(confidence, correct, bins)
    gaps = [abs(float(row["accuracy"]) - float(row["confidence"])) for row in table if row["count"]]
    one_hot = np.eye(probs.shape[1])[labels]
    return {
        "n": n,
        "bins": bins,
        "ece": round(expected_calibration_error(confidence, correct, bins), 4),
        "mce": round(max(gaps), 4),
        "brier": round(float(((probs - one_hot) ** 2).sum(axis=1).mean()), 4),
        "nll": round(
            float(-np.log(np.maximum(probs[np.arange(n), labels], PROBABILITY_FLOOR)).mean()), 4
        ),
        "mean_confidence": round(float(confidence.mean()), 4),
        "accuracy": round(float(correct.mean()), 4),
        "reliability": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
            for row in table
            if row["count"]
        ],
    }
