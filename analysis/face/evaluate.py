"""`python -m analysis evaluate faces DIR`: accuracy of the face models on labelled images.

Each item under `DIR/<label>/` (an image, an image-sequence folder or a video clip) goes
through the same detector, alignment and CNN as the pipeline; single images are scored by
the per-frame CNN, multi-frame clips by the temporal head over the whole clip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from analysis.calibration import calibration_report
from analysis.face.augment import resize_faces
from analysis.face.clips import FaceClip, FaceCropper, labelled_items
from analysis.face.expression import INPUT_SIZE_PX, to_model_input
from analysis.face.ferplus import FerPlusSplit
from analysis.face.loading import expression_cnn_spec, load_expression_cnn
from analysis.face.sequence import FaceSequenceModel, load_head_model
from analysis.labels import EMOTIONS


def recall_metrics(truth: list[int], predicted: list[int]) -> dict[str, Any]:
    """Accuracy, unweighted average recall over present classes, per-class recall, confusion."""
    n = len(EMOTIONS)
    confusion = np.zeros((n, n), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        confusion[t, p] += 1
    present = confusion.sum(axis=1) > 0
    recall = np.divide(np.diag(confusion), confusion.sum(axis=1), out=np.zeros(n), where=present)
    return {
        "n": len(truth),
        "accuracy": float(np.trace(confusion) / max(1, len(truth))),
        "uar": float(recall[present].mean()) if present.any() else 0.0,
        "per_class_recall": {EMOTIONS[i]: float(recall[i]) for i in range(n) if present[i]},
        "confusion": {
            "labels": list(EMOTIONS),
            "matrix": confusion.tolist(),  # rows: true label, columns: predicted label
        },
    }


@torch.inference_mode()
def clip_probabilities(model: FaceSequenceModel, clip: FaceClip) -> np.ndarray:
    """(classes,) probabilities: the per-frame CNN for one image, the temporal head for a clip."""
    device = next(model.parameters()).device
    crops = to_model_input(torch.from_numpy(clip.crops)).to(device)  # (T, 1, 64, 64)
    if len(crops) == 1:
        _, logits = model.encoder(crops)
    else:
        mask = torch.ones(1, len(crops), dtype=torch.bool, device=device)
        logits = model(crops[None], mask).logits
    probs: np.ndarray = logits.softmax(dim=-1)[0].cpu().numpy()
    return probs


def predict_clip(model: FaceSequenceModel, clip: FaceClip) -> int:
    return int(clip_probabilities(model, clip).argmax())


EVAL_BATCH = 512


@torch.inference_mode()
def predict_logits(model: nn.Module, images: np.ndarray) -> torch.Tensor:
    """(N, H, W) uint8 faces -> (N, 7) logits on the CPU, faces resized to the model's size."""
    device = next(model.parameters()).device
    model.eval()
    out = []
    for start in range(0, len(images), EVAL_BATCH):
        faces = resize_faces(torch.from_numpy(images[start : start + EVAL_BATCH]), INPUT_SIZE_PX)
        _, logits = model(to_model_input(faces).to(device))
        out.append(logits.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, len(EMOTIONS))


def dev_metrics(probs: np.ndarray, split: FerPlusSplit) -> dict[str, Any]:
    """Accuracy, UAR, per-class recall, confusion and calibration on the majority label."""
    rows = split.scored
    truth = split.majority[rows]
    report = recall_metrics(truth.tolist(), probs[rows].argmax(axis=1).tolist())
    report["calibration"] = calibration_report(probs[rows], truth)
    return report


def evaluate_ferplus(split: FerPlusSplit, cnn: str | None = None) -> dict[str, Any]:
    """The expression CNN `cnn` (None: the selected one) on FER+ faces, as calibrated."""
    model = load_expression_cnn(cnn)
    probs = predict_logits(model, split.images).softmax(dim=-1).numpy()
    report = dev_metrics(probs, split)
    report["model"] = expression_cnn_spec(cnn).to_provenance()
    return report


def evaluate_faces(root: Path, checkpoint: Path | None = None) -> dict[str, Any]:
    model = load_head_model(checkpoint)
    cropper = FaceCropper()
    truth, probabilities, faces_found, frames = [], [], 0, 0
    for path, label in labelled_items(root):
        clip = cropper.clip(path, label, root)
        truth.append(label)
        probabilities.append(clip_probabilities(model, clip))
        faces_found += int(clip.face_found.sum())
        frames += len(clip.face_found)
    metrics = recall_metrics(truth, [int(p.argmax()) for p in probabilities])
    metrics["calibration"] = calibration_report(np.stack(probabilities), truth) if truth else {}
    metrics["face_found_rate"] = faces_found / frames if frames else 0.0
    return metrics
