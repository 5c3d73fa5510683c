"""The three MTCNN networks (Zhang et al. 2016), shaped to take facenet-pytorch's weight files.

Layer names match the state dicts in `facenet_pytorch/data/{pnet,rnet,onet}.pt`, so they load
with `load_state_dict` and strict checking. Inputs are RGB scaled as (x - 127.5) / 128.
"""

from __future__ import annotations

import torch
from torch import nn


class PNet(nn.Module):
    """Proposal net: fully convolutional, scores every 12x12 window (stride 2) of an image."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (N, 3, H, W) -> face prob (N, H', W'), box offsets (N, 4, H', W')
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))  # (N, 32, H', W') with H' = (H - 10) / 2
        face_prob = torch.softmax(self.conv4_1(x), dim=1)[:, 1]
        return face_prob, self.conv4_2(x)


class RNet(nn.Module):
    """Refine net: re-scores 24x24 candidate crops and regresses their boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (N, 3, 24, 24) -> face prob (N,), box offsets (N, 4)
        x = self.pool1(self.prelu1(self.conv1(x)))  # (N, 28, 11, 11)
        x = self.pool2(self.prelu2(self.conv2(x)))  # (N, 48, 4, 4)
        x = self.prelu3(self.conv3(x))  # (N, 64, 3, 3)
        # The weights were converted from Caffe, which flattens width before height.
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # (N, 576)
        x = self.prelu4(self.dense4(x))  # (N, 128)
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net: final score, box and five landmarks on 48x48 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # x: (N, 3, 48, 48) -> face prob (N,), box offsets (N, 4), landmarks (N, 10)
        x = self.pool1(self.prelu1(self.conv1(x)))  # (N, 32, 23, 23)
        x = self.pool2(self.prelu2(self.conv2(x)))  # (N, 64, 10, 10)
        x = self.pool3(self.prelu3(self.conv3(x)))  # (N, 64, 4, 4)
        x = self.prelu4(self.conv4(x))  # (N, 128, 3, 3)
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # (N, 1152), Caffe order
        x = self.prelu5(self.dense5(x))  # (N, 256)
        face_prob = torch.softmax(self.dense6_1(x), dim=1)[:, 1]
        # landmarks: 5 x-coordinates then 5 y-coordinates, as fractions of the box
        return face_prob, self.dense6_2(x), self.dense6_3(x)
