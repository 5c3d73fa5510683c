"""Commands of this area of the pipeline (see analysis/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    _ = (commands, evaluate_commands, argparse)
