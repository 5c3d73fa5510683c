"""Train the temporal head (and optionally fine-tune the CNN) on labelled face clips.

Scarce data is the normal case, so every training sequence is a fresh augmentation of its
clip: horizontal flip, random crop, brightness/contrast, occluding patches and frame dropout.
Targets are either the folder labels, or (`targets="distill"`) the frozen CNN's own mean
probabilities over the clip's clean frames: the head then learns to reproduce them from
degraded frames, i.e. temporal smoothing that leans on the frames that are still readable.

Seeded (each epoch reseeds from seed and epoch number, so a resumed run continues exactly),
resumable from `<out>.state.pt`, logs one JSON line of metrics per epoch to stdout and
`<out>.metrics.jsonl`, and writes a model card `<out>.md` next to the checkpoint.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from analysis.face.clips import FaceClip
from analysis.face.evaluate import recall_metrics
from analysis.face.expression import INPUT_SIZE_PX, to_model_input
from analysis.face.loading import expression_cnn_spec, load_expression_cnn
from analysis.face.sequence import (
    FaceSequenceModel,
    TemporalHead,
    TemporalHeadConfig,
    save_checkpoint,
)
from analysis.labels import EMOTIONS


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 20
    seed: int = 0
    lr: float = 3e-3  # AdamW learning rate of the head
    cnn_lr: float = 1e-4  # learning rate of the CNN when fine-tuned
    weight_decay: float = 1e-3
    batch_size: int = 16  # sequences per step
    sequence_frames: int = 10  # frames per training sequence (2 s at 5 fps)
    fine_tune_cnn: bool = False  # also update the mini-Xception (otherwise frozen)
    targets: str = "labels"  # "labels" (folder names) or "distill" (the CNN's clean-frame mean)
    val_fraction: float = 0.25  # share of clips per class held out for validation
    hidden_size: int = 48  # LSTM units per direction
    # augmentation strengths
    flip_p: float = 0.5
    crop_min_fraction: float = 0.8  # random crop keeps at least this side fraction
    brightness: float = 0.3  # +/- multiplicative brightness and contrast jitter
    occlusion_p: float = 0.3  # chance per frame of a grey patch over part of the face
    dropout_p: float = 0.2  # chance per frame of being dropped from the sequence


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 0: the untrained head, i.e. the plain average of the per-frame CNN
    train_loss: float | None
    val_loss: float  # validation clips as the pipeline sees them
    val_accuracy: float
    val_uar: float
    degraded_loss: float  # the same clips after fixed (seeded) augmentation: occlusion etc.
    degraded_accuracy: float
    seconds: float

    @property
    def selection_loss(self) -> float:
        return self.val_loss + self.degraded_loss


@dataclass(frozen=True)
class TrainReport:
    checkpoint: Path
    sha256: str
    history: list[EpochMetrics]  # history[0] is the untrained baseline
    best: EpochMetrics  # the epoch whose weights were written
    n_train: int
    n_val: int


def split_clips(
    clips: list[FaceClip], val_fraction: float, seed: int
) -> tuple[list[FaceClip], list[FaceClip]]:
    """Stratified split: at least one clip per class for training, the rest as asked."""
    rng = random.Random(seed)  # noqa: S311 -- a reproducible split, not a secret
    train, val = [], []
    for label in sorted({c.label for c in clips}):
        members = [c for c in clips if c.label == label]
        rng.shuffle(members)
        n_val = min(len(members) - 1, round(len(members) * val_fraction))
        val.extend(members[:n_val])
        train.extend(members[n_val:])
    return train, val


def augment_clip(
    crops: np.ndarray, options: TrainOptions, generator: torch.Generator
) -> torch.Tensor:
    """(T, 64, 64) uint8 -> (S, 64, 64) uint8, S = options.sequence_frames (short clips loop)."""

    def uniform(low: float = 0.0, high: float = 1.0) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator))

    frames = torch.from_numpy(crops)
    steps = options.sequence_frames
    if len(frames) > steps:  # a random stretch of a long clip
        start = int(torch.randint(0, len(frames) - steps + 1, (), generator=generator))
        frames = frames[start : start + steps]
    else:
        frames = frames[torch.arange(steps) % len(frames)]
    frames = frames.float()[:, None]  # (S, 1, 64, 64)
    if uniform() < options.flip_p:
        frames = frames.flip(-1)
    # Random crop, per frame (a little jitter, like a moving head), resized back to 64.
    out = torch.empty_like(frames)
    for i in range(steps):
        side = round(INPUT_SIZE_PX * uniform(options.crop_min_fraction, 1.0))
        top = int(torch.randint(0, INPUT_SIZE_PX - side + 1, (), generator=generator))
        left = int(torch.randint(0, INPUT_SIZE_PX - side + 1, (), generator=generator))
        patch = frames[i : i + 1, :, top : top + side, left : left + side]
        out[i : i + 1] = F.interpolate(
            patch, size=(INPUT_SIZE_PX, INPUT_SIZE_PX), mode="bilinear", align_corners=False
        )
    gain = uniform(1 - options.brightness, 1 + options.brightness)
    contrast = uniform(1 - options.brightness, 1 + options.brightness)
    mean = out.mean()
    out = (out - mean) * contrast + mean * gain
    for i in range(steps):
        if uniform() < options.occlusion_p:
            h, w = (int(torch.randint(16, 40, (), generator=generator)) for _ in range(2))
            top = int(torch.randint(0, INPUT_SIZE_PX - h, (), generator=generator))
            left = int(torch.randint(0, INPUT_SIZE_PX - w, (), generator=generator))
            out[i, :, top : top + h, left : left + w] = uniform(0, 255)
    return out[:, 0].clamp(0, 255).round().to(torch.uint8)


def frame_dropout_mask(
    steps: int, options: TrainOptions, generator: torch.Generator
) -> torch.Tensor:
    """(steps,) bool, at least two frames kept; dropped frames are moved to the end (padding)."""
    keep = torch.rand(steps, generator=generator) >= options.dropout_p
    if int(keep.sum()) < 2:
        keep[:2] = True
    return keep


@torch.no_grad()
def distill_targets(clips: list[FaceClip], cnn: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Per clip, the frozen CNN's mean probabilities over its clean (unaugmented) frames."""
    targets = {}
    for clip in clips:
        device = next(cnn.parameters()).device
        _, logits = cnn(to_model_input(torch.from_numpy(clip.crops)).to(device))
        targets[clip.name] = torch.softmax(logits, dim=-1).mean(dim=0)
    return targets


def _batch(
    clips: list[FaceClip], options: TrainOptions, generator: torch.Generator, augment: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops (B, S, 1, 64, 64) normalised and mask (B, S), real frames first."""
    sequences, masks = [], []
    for clip in clips:
        if augment:
            frames = augment_clip(clip.crops, options, generator)
            keep = frame_dropout_mask(len(frames), options, generator)
        else:  # the whole clip, as the pipeline would see it
            frames = torch.from_numpy(clip.crops)
            keep = torch.ones(len(frames), dtype=torch.bool)
        ordered = torch.cat([frames[keep], frames[~keep]])
        sequences.append(ordered)
        masks.append(torch.arange(len(frames)) < int(keep.sum()))
    steps = max(len(s) for s in sequences)
    crops = torch.zeros(len(clips), steps, 1, INPUT_SIZE_PX, INPUT_SIZE_PX)
    mask = torch.zeros(len(clips), steps, dtype=torch.bool)
    for b, (frames, keep) in enumerate(zip(sequences, masks, strict=True)):
        crops[b, : len(frames)] = to_model_input(frames)
        mask[b, : len(frames)] = keep
    return crops, mask


def _loss(
    logits: torch.Tensor, clips: list[FaceClip], targets: dict[str, torch.Tensor] | None
) -> torch.Tensor:
    if targets is None:
        labels = torch.tensor([c.label for c in clips], device=logits.device)
        return F.cross_entropy(logits, labels)
    soft = torch.stack([targets[c.name] for c in clips]).to(logits.device)
    return F.kl_div(F.log_softmax(logits, dim=-1), soft, reduction="batchmean")


def _evaluate(
    model: FaceSequenceModel,
    clips: list[FaceClip],
    options: TrainOptions,
    targets: dict[str, torch.Tensor] | None,
    degraded: bool = False,
) -> tuple[float, dict[str, Any]]:
    model.eval()
    losses, predicted = [], []
    generator = torch.Generator().manual_seed(options.seed + 1)  # same degradations every time
    with torch.no_grad():
        for start in range(0, len(clips), options.batch_size):
            chunk = clips[start : start + options.batch_size]
            crops, mask = _batch(chunk, options, generator, augment=degraded)
            logits = model(crops, mask).logits
            losses.append(float(_loss(logits, chunk, targets)) * len(chunk))
            predicted.extend(logits.argmax(dim=-1).tolist())
    truth = (
        [int(targets[c.name].argmax()) for c in clips]
        if targets is not None
        else [c.label for c in clips]
    )
    return sum(losses) / max(1, len(clips)), recall_metrics(truth, predicted)


def _measure(
    model: FaceSequenceModel,
    clips: list[FaceClip],
    options: TrainOptions,
    targets: dict[str, torch.Tensor] | None,
    epoch: int,
    train_loss: float | None,
    started: float,
) -> EpochMetrics:
    val_loss, val = _evaluate(model, clips, options, targets)
    degraded_loss, degraded = _evaluate(model, clips, options, targets, degraded=True)
    return EpochMetrics(
        epoch=epoch,
        train_loss=None if train_loss is None else round(train_loss, 5),
        val_loss=round(val_loss, 5),
        val_accuracy=round(val["accuracy"], 4),
        val_uar=round(val["uar"], 4),
        degraded_loss=round(degraded_loss, 5),
        degraded_accuracy=round(degraded["accuracy"], 4),
        seconds=round(time.perf_counter() - started, 2),
    )


def train(
    clips: list[FaceClip],
    out: Path,
    options: TrainOptions,
    *,
    data_description: str = "",
    resume: bool = False,
    log: Callable[[str], None] = print,
    held_out: list[FaceClip] | None = None,
) -> TrainReport:
    """Train on `clips`; validate on `held_out` when given, else on a stratified share of them."""
    torch.manual_seed(options.seed)
    if held_out is not None:
        train_clips, val_clips = clips, held_out
    else:
        train_clips, val_clips = split_clips(clips, options.val_fraction, options.seed)
    if not val_clips:
        val_clips = train_clips  # a single clip per class: report training fit, say so
    base_cnn = load_expression_cnn()
    encoder = copy.deepcopy(base_cnn).cpu()
    head = TemporalHead(
        TemporalHeadConfig(feature_dim=base_cnn.feature_dim, hidden_size=options.hidden_size)
    )
    model = FaceSequenceModel(encoder, head)
    for parameter in encoder.parameters():
        parameter.requires_grad = options.fine_tune_cnn
    groups: list[dict[str, Any]] = [{"params": head.parameters(), "lr": options.lr}]
    if options.fine_tune_cnn:
        groups.append({"params": encoder.parameters(), "lr": options.cnn_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=options.weight_decay)
    targets = distill_targets(clips, encoder.eval()) if options.targets == "distill" else None

    out.parent.mkdir(parents=True, exist_ok=True)
    state_path = out.with_name(out.name + ".state.pt")
    metrics_path = out.with_name(out.name + ".metrics.jsonl")
    history: list[EpochMetrics] = []
    resumed_best: tuple[int, dict[str, torch.Tensor]] | None = None
    first_epoch = 1
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        history = [EpochMetrics(**m) for m in state["history"]]
        first_epoch = int(state["epoch"]) + 1
        resumed_best = (int(state["best_epoch"]), state["best_model"])
        log(f"resuming after epoch {first_epoch - 1}")
    elif metrics_path.exists():
        metrics_path.unlink()
    if not history:
        history.append(_measure(model, val_clips, options, targets, 0, None, time.perf_counter()))
        log(json.dumps(asdict(history[0])))
    best = min(history, key=lambda m: m.selection_loss)
    best_state = copy.deepcopy(model.state_dict())
    if resumed_best is not None:
        best = next(m for m in history if m.epoch == resumed_best[0])
        best_state = resumed_best[1]

    for epoch in range(first_epoch, options.epochs + 1):
        started = time.perf_counter()
        epoch_seed = options.seed * 100_003 + epoch
        torch.manual_seed(epoch_seed)  # dropout draws from the global generator
        generator = torch.Generator().manual_seed(epoch_seed)
        order = torch.randperm(len(train_clips), generator=generator).tolist()
        model.train()
        if not options.fine_tune_cnn:
            encoder.eval()  # frozen batch-norm statistics
        total, count = 0.0, 0
        for start in range(0, len(order), options.batch_size):
            chunk = [train_clips[i] for i in order[start : start + options.batch_size]]
            crops, mask = _batch(chunk, options, generator, augment=True)
            loss = _loss(model(crops, mask).logits, chunk, targets)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            total += float(loss.detach()) * len(chunk)
            count += len(chunk)
        metrics = _measure(
            model, val_clips, options, targets, epoch, total / max(1, count), started
        )
        history.append(metrics)
        if metrics.selection_loss < best.selection_loss:
            best, best_state = metrics, copy.deepcopy(model.state_dict())
        log(json.dumps(asdict(metrics)))
        with metrics_path.open("a") as handle:
            handle.write(json.dumps(asdict(metrics)) + "\n")
        torch.save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "epoch": epoch,
                "history": [asdict(m) for m in history],
                "best_epoch": best.epoch,
                "best_model": best_state,
            },
            state_path,
        )

    model.load_state_dict(best_state)
    meta = {
        "options": json.dumps(asdict(options)),
        "data": data_description,
        "n_train": len(train_clips),
        "n_val": len(val_clips),
        "best": json.dumps(asdict(best)),
    }
    sha = save_checkpoint(out, head, encoder=encoder if options.fine_tune_cnn else None, meta=meta)
    report = TrainReport(out, sha, history, best, len(train_clips), len(val_clips))
    write_model_card(report, options, [*train_clips, *val_clips], data_description)
    return report


def write_model_card(
    report: TrainReport, options: TrainOptions, clips: list[FaceClip], data_description: str
) -> Path:
    cnn = expression_cnn_spec()
    counts = {EMOTIONS[k]: sum(c.label == k for c in clips) for k in range(len(EMOTIONS))}
    faces_found = sum(int(c.face_found.sum()) for c in clips)
    frames = sum(len(c.crops) for c in clips)
    size_kb = math.ceil(report.checkpoint.stat().st_size / 1024)
    lines = [
        f"# Face temporal head: {report.checkpoint.name}",
        "",
        f"CNN-LSTM head over the expression CNN `{cnn.name}` ({cnn.version}); "
        f"labels {', '.join(EMOTIONS)}.",
        "",
        f"- sha256: `{report.sha256}` ({size_kb} KB)",
        f"- data: {data_description or 'not described'}",
        f"- clips per label: {json.dumps({k: v for k, v in counts.items() if v})}",
        f"- frames: {frames}, with a detected face: {faces_found}",
        f"- split: {report.n_train} training / {report.n_val} validation clips "
        f"(seed {options.seed})",
        f"- targets: {options.targets}; CNN fine-tuned: {options.fine_tune_cnn}",
        f"- options: `{json.dumps(asdict(options))}`",
        "",
        "| validation | loss | accuracy | UAR | degraded loss | degraded accuracy |",
        "|---|---|---|---|---|---|",
    ]
    rows = (
        ("untrained (CNN average)", report.history[0]),
        (f"kept: epoch {report.best.epoch}", report.best),
    )
    for name, m in rows:
        lines.append(
            f"| {name} | {m.val_loss:.4f} | {m.val_accuracy:.3f} | {m.val_uar:.3f} | "
            f"{m.degraded_loss:.4f} | {m.degraded_accuracy:.3f} |"
        )
    lines += [
        "",
        "Accuracy is against the folder labels, or, when distilling, against the CNN's own call",
        "on the clean frames. 'Degraded' is the validation clips after seeded augmentation",
        "(occlusion, crops, lighting, dropped frames). The epoch kept has the lowest sum of both",
        "losses; epoch 0 (no training: the plain average of the per-frame CNN) competes too.",
        "",
        "Emotion scores are observations of facial expression, never a diagnosis. This head is",
        "validated only as reported above, on the data named above; it is not validated for",
        "clinical use or for any population the data does not represent.",
        "",
    ]
    card = report.checkpoint.with_suffix(".md")
    card.write_text("\n".join(lines))
    return card
