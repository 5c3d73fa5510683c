"""A small ResNet for 64x64 grey faces: the wider candidate beside the mini-Xception.

Four stages of one basic residual block each (32/64/128/256 channels, 1.2 M parameters,
about 60 M multiply-adds a face: six times the mini-Xception), trained from scratch on FER+.
Same contract as `MiniXception`: normalised crops in, (embedding, logits) out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from analysis.labels import EMOTIONS

RESNET_WIDTHS = (32, 64, 128, 256)


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class FaceResNet(nn.Module):
    """64x64 grey face in [-1, 1] -> 256-d embedding and 7 emotion logits (EMOTIONS order)."""

    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        w = RESNET_WIDTHS
        self.stem = nn.Sequential(
            nn.Conv2d(1, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU()
        )
        self.blocks = nn.Sequential(
            BasicBlock(w[0], w[0], 1),
            BasicBlock(w[0], w[1], 2),
            BasicBlock(w[1], w[2], 2),
            BasicBlock(w[2], w[3], 2),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(w[3], len(EMOTIONS))

    @property
    def feature_dim(self) -> int:
        return RESNET_WIDTHS[-1]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (N, 1, 64, 64)
        x = self.stem(x)  # (N, 32, 32, 32)
        x = self.blocks(x)  # (N, 256, 4, 4)
        features = x.mean(dim=(2, 3))  # (N, 256)
        return features, self.classifier(self.dropout(features))  # (N, 7)
