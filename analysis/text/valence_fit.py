"""Choose how a sentence's valence is read, on EmoBank: `python -m analysis evaluate text-valence`.

Reads EmoBank train and dev with the trained head and with VADER, fits a linear blend of the
two on train (least squares against the re-centred human rating), and prints each method's
Spearman rank correlation with the human valence on dev: the head alone, VADER alone, their
plain average (how timelines read valence before), and the blend. `--write` keeps the best in
`analysis/text/text_valence.json`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from analysis.text.valence import AVERAGE, BLEND, CHOICE_PATH, HEAD, METHODS, VADER, ValenceChoice


def _readings(texts: list[str]) -> np.ndarray:
    """(n, 2): the head's valence and VADER's compound per sentence."""
    from analysis.text.emotion import text_emotions
    from analysis.text.sentiment import sentiment

    head = [e.valence for e in text_emotions(texts)]
    vader = [sentiment(text)["compound"] for text in texts]
    return np.column_stack([head, vader])


def _human(ratings: np.ndarray) -> np.ndarray:
    from analysis.text.emotion import EMOBANK_CENTRE, EMOBANK_HALF_RANGE

    return np.asarray((ratings[:, 0] - EMOBANK_CENTRE) / EMOBANK_HALF_RANGE)


def choose(
    train: np.ndarray, train_truth: np.ndarray, dev: np.ndarray, dev_truth: np.ndarray
) -> ValenceChoice:
    from scipy.stats import spearmanr

    design = np.column_stack([train, np.ones(len(train))])
    (head_weight, vader_weight, intercept), *_ = np.linalg.lstsq(design, train_truth, rcond=None)
    candidates = {
        method: ValenceChoice(
            method,
            head_weight=round(float(head_weight), 4),
            vader_weight=round(float(vader_weight), 4),
            intercept=round(float(intercept), 4),
        )
        if method == BLEND
        else ValenceChoice(method)
        for method in METHODS
    }
    figures = {
        method: round(float(spearmanr([c.valence(h, v) for h, v in dev], dev_truth).statistic), 4)
        for method, c in candidates.items()
    }
    best = max(METHODS, key=lambda m: (figures[m], -METHODS.index(m)))
    chosen = candidates[best]
    return ValenceChoice(
        chosen.method,
        head_weight=chosen.head_weight,
        vader_weight=chosen.vader_weight,
        intercept=chosen.intercept,
        dev_spearman=figures,
    )


def run(args: argparse.Namespace) -> int:
    from analysis.text.train_head import load_emobank

    train_texts, train_ratings = load_emobank("train")
    dev_texts, dev_ratings = load_emobank("dev")
    if args.limit:
        train_texts, train_ratings = train_texts[: args.limit], train_ratings[: args.limit]
    choice = choose(
        _readings(train_texts), _human(train_ratings), _readings(dev_texts), _human(dev_ratings)
    )
    figures = choice.dev_spearman or {}
    result: dict[str, Any] = {
        "data": f"EmoBank: blend fitted on {len(train_texts)} train, read on {len(dev_texts)} dev",
        "dev_spearman": figures,
        "before": {"method": AVERAGE, "dev_spearman": figures.get(AVERAGE)},
        "chosen": choice.to_dict(),
        "gain_over_before": round(figures[choice.method] - figures[AVERAGE], 4),
        "note": f"{HEAD}: MiniLM head; {VADER}: VADER compound",
    }
    if args.write:
        CHOICE_PATH.write_text(json.dumps(choice.to_dict(), indent=2) + "\n")
        result["written"] = str(CHOICE_PATH)
    print(json.dumps(result, indent=2))
    return 0
