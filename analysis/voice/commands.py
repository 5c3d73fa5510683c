"""Voice commands: `evaluate voice-arousal` (the arousal calibration, fitted and read) and
`train-speech-emotion` (the optional speech-emotion head, trained and measured on RAVDESS)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    arousal = evaluate_commands.add_parser(
        "voice-arousal",
        help="vocal arousal on RAVDESS acted speech, calibrated against uncalibrated",
    )
    arousal.add_argument(
        "--data", type=Path, default=None, help="RAVDESS folder (default: shared/data)"
    )
    arousal.add_argument(
        "--write", action="store_true", help="save the calibration fitted on every actor"
    )
    arousal.add_argument(
        "--write-to", type=Path, default=None, help="where (default: the shipped calibration)"
    )
    arousal.set_defaults(handler=_evaluate_arousal)
    head = commands.add_parser(
        "train-speech-emotion",
        help="train the optional speech-emotion head on RAVDESS (leave-one-actor-out figures)",
    )
    head.add_argument("--write", action="store_true", help="save the head fitted on every actor")
    head.set_defaults(handler=_train_speech_emotion)


def _evaluate_arousal(args: argparse.Namespace) -> int:
    from analysis.voice.arousal_fit import run

    return run(args)


def _train_speech_emotion(args: argparse.Namespace) -> int:
    from analysis.voice.train_speech_emotion import run

    return run(args)
