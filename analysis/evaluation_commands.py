"""`python -m analysis evaluate text`: accuracy, confusion and calibration of transcript emotion.

Scores the sentence-emotion head (MiniLM embeddings + trained head, analysis/text/emotion.py)
on labelled sentences: by default the GoEmotions dev split mapped onto Moodline's seven labels
exactly as the head was trained (analysis/text/train_head.py), or any `text<TAB>label` file.
Prints one JSON object: accuracy, unweighted average recall, per-class recall, the confusion
matrix and the calibration report (analysis/calibration.py) of the head's probabilities.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from analysis.labels import EMOTIONS


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    text = evaluate_commands.add_parser(
        "text", help="accuracy and calibration of transcript emotion on labelled sentences"
    )
    text.add_argument(
        "--tsv",
        type=Path,
        default=None,
        help="text<TAB>label lines (labels: " + ", ".join(EMOTIONS) + "); default: GoEmotions dev",
    )
    text.add_argument("--limit", type=int, default=None, help="score only the first N sentences")
    text.set_defaults(handler=_evaluate_text)
    valence = evaluate_commands.add_parser(
        "text-valence",
        help="which reading of sentence valence agrees best with EmoBank dev (head, VADER, blend)",
    )
    valence.add_argument("--write", action="store_true", help="keep the best as the shipped choice")
    valence.add_argument("--limit", type=int, default=None, help="fit on the first N train only")
    valence.set_defaults(handler=_evaluate_text_valence)
    fusion = evaluate_commands.add_parser(
        "fusion",
        help="each channel and fusion on generated FER+ and RAVDESS recordings; fit reliabilities",
    )
    fusion.add_argument("--recordings", type=int, default=48, help="recordings to generate")
    fusion.add_argument("--seed", type=int, default=13)
    # 192 windows a recording (6.4 minutes, still far short of a session): whether fusion falls
    # below a channel on a recording then turns on more than a few windows. At 48 a recording,
    # chance alone left 0.4 of 48 recordings below (expected_below_by_chance).
    fusion.add_argument(
        "--segments", type=int, default=96, help="4-second segments per recording (default 96)"
    )
    fusion.add_argument("--write", action="store_true", help="keep the fitted reliabilities")
    fusion.set_defaults(handler=_evaluate_fusion)
    moments = evaluate_commands.add_parser(
        "moments",
        help="calibrate the key-moment thresholds on generated FER+ and RAVDESS recordings",
    )
    moments.add_argument("--recordings", type=int, default=24, help="recordings to generate")
    moments.add_argument("--seed", type=int, default=17)
    moments.set_defaults(handler=_evaluate_moments)


def read_labelled_tsv(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        text, _, label = line.rpartition("\t")
        if label not in EMOTIONS:
            raise SystemExit(f"error: {path}:{number}: label {label!r} is not one of {EMOTIONS}")
        texts.append(text)
        labels.append(EMOTIONS.index(label))
    return texts, labels


def evaluate_text(texts: list[str], truth: list[int]) -> dict[str, Any]:
    import numpy as np

    from analysis.calibration import calibration_report
    from analysis.face.evaluate import recall_metrics
    from analysis.text.emotion import text_emotions

    probabilities = np.array([[e.probs[k] for k in EMOTIONS] for e in text_emotions(texts)])
    metrics = recall_metrics(truth, [int(p.argmax()) for p in probabilities])
    metrics["calibration"] = calibration_report(probabilities, truth)
    return metrics


def _evaluate_text(args: argparse.Namespace) -> int:
    if args.tsv is not None:
        texts, truth = read_labelled_tsv(args.tsv)
        source = str(args.tsv)
    else:
        from analysis.text.train_head import load_goemotions

        texts, truth = load_goemotions("dev")
        source = "GoEmotions dev (mapped as in analysis/text/train_head.py)"
    if args.limit is not None:
        texts, truth = texts[: args.limit], truth[: args.limit]
    result = evaluate_text(texts, truth)
    result["source"] = source
    print(json.dumps(result))
    return 0


def _evaluate_text_valence(args: argparse.Namespace) -> int:
    from analysis.text.valence_fit import run

    return run(args)


def _evaluate_fusion(args: argparse.Namespace) -> int:
    from analysis.fusion_fit import run

    return run(args)


def _evaluate_moments(args: argparse.Namespace) -> int:
    from analysis.moment_fit import run

    return run(args)
