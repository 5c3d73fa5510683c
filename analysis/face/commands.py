"""Face commands of `python -m analysis`: `train-face` and `evaluate faces`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from analysis.face.ferplus import FerPlusSplit
from analysis.face.train import TrainOptions
from analysis.face.train_cnn import ARCHITECTURES, CnnTrainOptions


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    defaults = TrainOptions()
    train = commands.add_parser(
        "train-face",
        help="train the face temporal head on DIR/<label>/*.mp4 or DIR/<label>/<clip>/*.png",
    )
    train.add_argument("--data", type=Path, help="folder of label folders")
    train.add_argument(
        "--ferplus",
        type=Path,
        nargs="?",
        const=Path(""),
        default=None,
        help="train on clips built from FER+ stills (train) and validate on clips from valid; "
        "optionally the FER+ folder or .npz (default: shared/data/ferplus)",
    )
    train.add_argument("--clips-per-label", type=int, default=300, help="with --ferplus")
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

    cnn_defaults = CnnTrainOptions()
    cnn = commands.add_parser(
        "train-face-cnn",
        help="train the per-frame expression CNN on FER+ train; select and calibrate on valid",
    )
    cnn.add_argument("--data", type=Path, default=None, help="folder or .npz of FER+ (shared/)")
    cnn.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    cnn.add_argument("--arch", choices=ARCHITECTURES, default=cnn_defaults.arch)
    cnn.add_argument("--epochs", type=int, default=cnn_defaults.epochs)
    cnn.add_argument("--seed", type=int, default=cnn_defaults.seed)
    cnn.add_argument("--lr", type=float, default=cnn_defaults.lr)
    cnn.add_argument("--batch-size", type=int, default=cnn_defaults.batch_size)
    cnn.add_argument("--threads", type=int, default=cnn_defaults.threads)
    cnn.add_argument("--class-weight-power", type=float, default=cnn_defaults.class_weight_power)
    cnn.add_argument("--limit-train", type=int, default=0, help="first N images only (tests)")
    cnn.add_argument("--resume", action="store_true", help="continue from <out>.state.pt")
    cnn.add_argument(
        "--stop-after-epochs", type=int, default=0, help="end this run after N epochs (resumable)"
    )
    cnn.add_argument("--no-progress", action="store_true", help="no progress bar")
    cnn.add_argument(
        "--align",
        action="store_true",
        help="train on faces cut as the pipeline cuts them (MTCNN, eyes level; cached in var/)",
    )
    cnn.set_defaults(handler=_train_face_cnn)

    faces = evaluate_commands.add_parser(
        "faces", help="accuracy and UAR of the face models on DIR/<label>/<image>"
    )
    faces.add_argument("data", type=Path, nargs="?", help="folder of label folders")
    faces.add_argument(
        "--lfw-expressions",
        action="store_true",
        help="score the hand-labelled faces of scikit-image's LFW subset instead of a folder",
    )
    faces.add_argument(
        "--ferplus",
        type=Path,
        nargs="?",
        const=Path(""),
        default=None,
        help="score FER+ valid (optionally: the FER+ folder or .npz; default shared/data/ferplus)",
    )
    faces.add_argument(
        "--cnn",
        action="append",
        default=None,
        help="expression CNN to score (repeatable; default: the selected one, MOODLINE_FACE_CNN)",
    )
    faces.add_argument("--checkpoint", type=Path, default=None, help="temporal head to use")
    faces.add_argument(
        "--align", action="store_true", help="with --ferplus: faces cut as the pipeline cuts them"
    )
    faces.set_defaults(handler=_evaluate_faces)

    engine = evaluate_commands.add_parser(
        "face-engine",
        help="whether ONNX Runtime gives torch's answers for the face networks (FER+ valid)",
    )
    engine.add_argument(
        "ferplus",
        type=Path,
        nargs="?",
        default=Path(""),
        help="the FER+ folder or .npz (default shared/data/ferplus)",
    )
    engine.add_argument("--limit", type=int, default=None, help="the first N faces only")
    engine.set_defaults(handler=_evaluate_face_engine)


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
    if (args.data is None) == (args.ferplus is None):  # both or neither
        print("error: give either --data DIR or --ferplus", file=sys.stderr)
        return 2
    held_out = None
    if args.ferplus is not None:
        from analysis.face.ferplus import load_ferplus
        from analysis.face.ferplus_clips import ferplus_clips

        data = load_ferplus(_ferplus_root(args.ferplus))
        n = args.clips_per_label
        clips = ferplus_clips(data["train"], n, args.seed, "train")
        held_out = ferplus_clips(data["valid"], max(1, n // 3), args.seed + 1, "valid")
        description = (
            f"{len(clips)} clips built from FER+ train stills, {len(held_out)} held-out clips "
            "from FER+ valid stills (analysis/face/ferplus_clips.py)"
        )
    else:
        clips = load_clips(args.data)
        if not clips:
            print(f"error: no labelled clips under {args.data}")
            return 2
        description = f"{len(clips)} clips from {args.data}"
    description = args.describe_data or description
    report = train(
        clips,
        args.out,
        options,
        data_description=description,
        resume=args.resume,
        held_out=held_out,
    )
    print(json.dumps({"checkpoint": str(report.checkpoint), "sha256": report.sha256}))
    return 0


ALIGNED_CACHE = Path("var") / "ferplus-aligned"


def _ferplus_root(given: Path) -> Path:
    """`--ferplus` given bare means the shared data folder beside the project."""
    from analysis.face.ferplus import DEFAULT_PATH

    return given if given != Path("") else DEFAULT_PATH


def aligned_splits(data: dict[str, FerPlusSplit]) -> dict[str, FerPlusSplit]:
    from analysis.face.ferplus_align import with_aligned_faces

    return {
        name: with_aligned_faces(split, ALIGNED_CACHE / f"{name}.npz")
        for name, split in data.items()
    }


def _train_face_cnn(args: argparse.Namespace) -> int:
    from analysis.face.ferplus import DEFAULT_PATH, load_ferplus
    from analysis.face.train_cnn import train_cnn

    options = CnnTrainOptions(
        arch=args.arch,
        epochs=args.epochs,
        seed=args.seed,
        lr=args.lr,
        batch_size=args.batch_size,
        threads=args.threads,
        class_weight_power=args.class_weight_power,
        limit_train=args.limit_train,
        stop_after_epochs=args.stop_after_epochs,
        aligned=args.align,
    )
    data = load_ferplus(args.data or DEFAULT_PATH)
    if args.align:
        data = aligned_splits(data)
    report = train_cnn(data, args.out, options, resume=args.resume, progress=not args.no_progress)
    if not report.sha256:
        print(json.dumps({"stopped_after_epoch": report.history[-1]["epoch"], "resume": True}))
        return 0
    print(
        json.dumps(
            {
                "checkpoint": str(report.checkpoint),
                "sha256": report.sha256,
                "best_epoch": report.best_epoch,
                "valid_accuracy": report.dev["accuracy"],
                "valid_uar": report.dev["uar"],
                "valid_ece": report.dev["calibration"]["ece"],
            }
        )
    )
    return 0


def _evaluate_face_engine(args: argparse.Namespace) -> int:
    from analysis.face.engine_agreement import ferplus_engine_agreement
    from analysis.face.ferplus import load_ferplus

    valid = load_ferplus(_ferplus_root(args.ferplus))["valid"]
    faces = valid.images[: args.limit] if args.limit else valid.images
    report = ferplus_engine_agreement(faces)
    print(json.dumps(report))
    return 0 if report["met"] else 1


def _evaluate_faces(args: argparse.Namespace) -> int:
    from analysis.face.evaluate import evaluate_faces

    sources = (args.data is not None) + args.lfw_expressions + (args.ferplus is not None)
    if sources != 1:
        print(
            "error: give one of a folder of label folders, --lfw-expressions or --ferplus",
            file=sys.stderr,
        )
        return 2
    if args.ferplus is not None:
        from analysis.face.evaluate import evaluate_ferplus
        from analysis.face.ferplus import load_ferplus

        valid = load_ferplus(_ferplus_root(args.ferplus))["valid"]
        if args.align:
            valid = aligned_splits({"valid": valid})["valid"]
        names = args.cnn or [None]
        print(json.dumps({name or "selected": evaluate_ferplus(valid, name) for name in names}))
        return 0
    if args.lfw_expressions:
        from analysis.face.lfw_expressions import write_lfw_expressions

        with tempfile.TemporaryDirectory(prefix="moodline-lfw-") as scratch:
            metrics = evaluate_faces(write_lfw_expressions(Path(scratch)), args.checkpoint)
    else:
        metrics = evaluate_faces(args.data, args.checkpoint)
    print(json.dumps(metrics))
    return 0
