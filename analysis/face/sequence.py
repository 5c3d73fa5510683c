"""The CNN-LSTM over a face track: mini-Xception per frame, an LSTM over time, attention pooling.

The per-frame CNN gives a 128-d embedding and 7 class log-probabilities; the LSTM reads both;
an attention layer weighs the frames and its weights are kept as evidence of which frames
mattered. The head's output is the attention-weighted mean of the CNN's log-probabilities
plus a learned correction: with the correction at zero (its initialisation) the model
reproduces the per-frame CNN exactly, so training can only move it away from that baseline
as far as the data supports.
"""

from __future__ import annotations

import copy
import io
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from analysis.errors import ErrorCode, ModelError
from analysis.face.expression import FEATURE_DIM
from analysis.face.expression_cnn import ExpressionCnn, read_face_checkpoint
from analysis.face.loading import (
    default_head_path,
    default_head_spec,
    face_cnn_name,
    load_expression_cnn,
)
from analysis.labels import EMOTIONS
from analysis.weights.registry import sha256_file

CHECKPOINT_FORMAT = "moodline.face-sequence/1"


@dataclass(frozen=True)
class TemporalHeadConfig:
    feature_dim: int = FEATURE_DIM  # size of the CNN's per-frame embedding
    n_classes: int = len(EMOTIONS)
    hidden_size: int = 48  # LSTM units per direction
    attention_size: int = 32  # width of the attention scorer's hidden layer
    dropout: float = 0.2  # on the LSTM output, during training only


class HeadOutput(NamedTuple):
    logits: torch.Tensor  # (B, n_classes)
    attention: torch.Tensor  # (B, T), zero at padded steps, sums to 1 over real ones


class TemporalHead(nn.Module):
    def __init__(self, config: TemporalHeadConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TemporalHeadConfig()
        self.feature_norm = nn.LayerNorm(config.feature_dim)
        self.lstm = nn.LSTM(
            config.feature_dim + config.n_classes,
            config.hidden_size,
            batch_first=True,
            bidirectional=True,
        )
        width = 2 * config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.attention = nn.Sequential(
            nn.Linear(width, config.attention_size), nn.Tanh(), nn.Linear(config.attention_size, 1)
        )
        self.correction = nn.Linear(width, config.n_classes)
        # Start as the plain average of the CNN: uniform attention, no correction.
        for layer in (self.attention[2], self.correction):
            assert isinstance(layer, nn.Linear)
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(
        self, features: torch.Tensor, frame_log_probs: torch.Tensor, mask: torch.Tensor
    ) -> HeadOutput:
        # features: (B, T, 128); frame_log_probs: (B, T, 7); mask: (B, T) True on real frames
        lengths = mask.sum(dim=1).clamp(min=1)
        x = torch.cat([self.feature_norm(features), frame_log_probs], dim=-1)  # (B, T, 135)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hidden, _ = self.lstm(packed)
        hidden, _ = pad_packed_sequence(hidden, batch_first=True, total_length=x.shape[1])
        hidden = self.dropout(hidden)  # (B, T, 2H)
        scores = self.attention(hidden).squeeze(-1)  # (B, T)
        weights = torch.softmax(scores.masked_fill(~mask, -torch.inf), dim=1)  # (B, T)
        pooled = torch.einsum("bt,bth->bh", weights, hidden)  # (B, 2H)
        prior = torch.einsum("bt,btc->bc", weights, frame_log_probs)  # (B, 7)
        return HeadOutput(prior + self.correction(pooled), weights)


class FaceSequenceModel(nn.Module):
    """Frames of one face track (crops) -> emotion logits for the sequence and attention."""

    def __init__(self, encoder: ExpressionCnn, head: TemporalHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def encode(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, 64, 64) normalised crops -> features (N, 128), log-probs (N, 7)."""
        features, logits = self.encoder(crops)
        return features, F.log_softmax(logits, dim=-1)

    def forward(self, crops: torch.Tensor, mask: torch.Tensor) -> HeadOutput:
        # crops: (B, T, 1, 64, 64); mask: (B, T)
        batch, steps = crops.shape[:2]
        features, log_probs = self.encode(crops.flatten(0, 1))  # (B*T, 128), (B*T, 7)
        out: HeadOutput = self.head(
            features.view(batch, steps, -1), log_probs.view(batch, steps, -1), mask
        )
        return out


# --- checkpoints ---------------------------------------------------------------------------


def save_checkpoint(
    path: Path,
    head: TemporalHead,
    *,
    encoder: ExpressionCnn | None = None,
    meta: dict[str, Any] | None = None,
) -> str:
    """Write a checkpoint that `torch.load(weights_only=True)` can read; returns its sha256."""
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "labels": list(EMOTIONS),
        "config": asdict(head.config),
        "head": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
        "encoder": (
            {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
            if encoder is not None
            else None
        ),
        "meta": meta or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.write_bytes(buffer.getvalue())
    return sha256_file(path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    return read_face_checkpoint(path, CHECKPOINT_FORMAT)


def head_from_checkpoint(payload: dict[str, Any]) -> TemporalHead:
    head = TemporalHead(TemporalHeadConfig(**payload["config"]))
    head.load_state_dict(payload["head"], strict=True)
    return head.eval()


@cache
def load_sequence_model(
    path: Path, expected_sha256: str | None = None, cnn: str | None = None
) -> FaceSequenceModel:
    """Build the CNN-LSTM from a head checkpoint (the shipped default or any compatible file)
    over the expression CNN `cnn` (None: the selected one)."""
    actual = sha256_file(path) if path.is_file() else None
    if expected_sha256 is not None and actual != expected_sha256:
        raise ModelError(
            ErrorCode.MODEL_CHECKSUM_MISMATCH,
            f"{path} has sha256 {actual}, expected {expected_sha256}",
        )
    payload = read_checkpoint(path)
    base = load_expression_cnn(cnn)
    encoder = base
    if payload["encoder"] is not None:  # the CNN was fine-tuned with this head
        encoder = copy.deepcopy(base)
        encoder.load_state_dict(payload["encoder"], strict=True)
    head = head_from_checkpoint(payload)
    if head.config.feature_dim != base.feature_dim:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"{path} reads {head.config.feature_dim}-d CNN features, but the expression CNN "
            f"gives {base.feature_dim}: it was trained over another CNN",
        )
    head = head.to(next(base.parameters()).device)
    return FaceSequenceModel(encoder.eval(), head).eval()


def load_head_model(checkpoint: Path | None) -> FaceSequenceModel:
    """The shipped head of the selected CNN (checksum-verified) when `checkpoint` is None, else
    that file over the selected CNN."""
    cnn = face_cnn_name()
    if checkpoint is None:
        return load_sequence_model(default_head_path(cnn), default_head_spec(cnn).sha256, cnn)
    return load_sequence_model(Path(checkpoint), None, cnn)
