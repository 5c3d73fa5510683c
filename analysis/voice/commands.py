"""`python -m analysis evaluate voice-arousal`: the vocal-arousal calibration, fitted and read."""

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


def _evaluate_arousal(args: argparse.Namespace) -> int:
    from analysis.voice.arousal_fit import run

    return run(args)
