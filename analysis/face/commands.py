"""Face commands of `python -m analysis`: `train-face` and `evaluate faces`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from analysis.face.train import TrainOptions


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    defaults = TrainOptions()
    train = commands.add_parser(
        "train-face",
        help="train the face temporal head on DIR/<label>/*.mp4 or DIR/<label>/<clip>/*.png",
    )
    train.add_argument("--data", type=Path, required=True, help="folder of label folders")
    train.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--lr", type=float, default=defaults.lr)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--sequence-frames", type=int, default=defaults.sequence_frames)
    train.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    train.add_argument("--fine-tune-cnn", action="store_true", help="also update the CNN")
    train.add_argument(
        "--targets",
        choices=("labels", "distill"),
        default=defaults.targets,
        help="folder labels, or the frozen CNN's mean probabilities over clean frames",
    )
    train.add_argument("--resume", action="store_true", help="continue from <out>.state.pt")
    train.add_argument("--describe-data", default="", help="one line for the model card")
    train.set_defaults(handler=_train_face)

    faces = evaluate_commands.add_parser(
        "faces", help="accuracy and UAR of the face models on DIR/<label>/<image>"
    )
    faces.add_argument("data", type=Path, nargs="?", help="folder of label folders")
    faces.add_argument(
        "--lfw-expressions",
        action="store_true",
        help="score the hand-labelled faces of scikit-image's LFW subset instead of a folder",
    )
    faces.add_argument("--checkpoint", type=Path, default=None, help="temporal head to use")
    faces.set_defaults(handler=_evaluate_faces)


def _train_face(args: argparse.Namespace) -> int:
    from analysis.face.clips import load_clips
    from analysis.face.train import train

    options = TrainOptions(
        epochs=args.epochs,
        seed=args.seed,
        lr=args.lr,
        batch_size=args.batch_size,
        sequence_frames=args.sequence_frames,
        val_fraction=args.val_fraction,
        fine_tune_cnn=args.fine_tune_cnn,
        targets=args.targets,
    )
    clips = load_clips(args.data)
    if not clips:
        print(f"error: no labelled clips under {args.data}")
        return 2
    description = args.describe_data or f"{len(clips)} clips from {args.data}"
    report = train(clips, args.out, options, data_description=description, resume=args.resume)
    print(json.dumps({"checkpoint": str(report.checkpoint), "sha256": report.sha256}))
    return 0


def _evaluate_faces(args: argparse.Namespace) -> int:
    from analysis.face.evaluate import evaluate_faces

    if (args.data is not None) == args.lfw_expressions:  # both or neither
        print("error: give either a folder of label folders or --lfw-expressions", file=sys.stderr)
        return 2
    if args.lfw_expressions:
        from analysis.face.lfw_expressions import write_lfw_expressions

        with tempfile.TemporaryDirectory(prefix="moodline-lfw-") as scratch:
            metrics = evaluate_faces(write_lfw_expressions(Path(scratch)), args.checkpoint)
    else:
        metrics = evaluate_faces(args.data, args.checkpoint)
    print(json.dumps(metrics))
    return 0
