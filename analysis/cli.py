"""`python -m analysis <command>`: the pipeline from a shell, without Django.

Each area of the pipeline contributes its own commands through a `register` function, so this
module only builds the parser and turns typed errors into a clear message and exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from analysis.errors import AnalysisError, MediaError
from analysis.threads import apply_thread_budget

# Modules that add commands: each defines `register(commands, evaluate_commands)`.
COMMAND_MODULES: tuple[str, ...] = (
    "analysis.weights.commands",
    "analysis.face.commands",
    "analysis.voice.commands",
    "analysis.commands",
    "analysis.evaluation_commands",
)

EXIT_BAD_INPUT = 2
EXIT_ANALYSIS_ERROR = 3

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Moodline analysis: emotional-trajectory timelines from session recordings.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    evaluate = commands.add_parser("evaluate", help="measure accuracy on labelled data")
    evaluate_commands = evaluate.add_subparsers(dest="what", required=True, metavar="WHAT")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(commands, evaluate_commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_thread_budget()
    handler: Handler = args.handler
    try:
        return handler(args)
    except AnalysisError as error:
        print(f"error: {error.message} ({error.code})", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(error, MediaError) else EXIT_ANALYSIS_ERROR
