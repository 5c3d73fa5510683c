"""A speaker embedding per piece of speech: the GE2E speaker encoder that ships in Resemblyzer.

Only the weights file of the `resemblyzer` wheel is read (its code pulls in a C VAD library the
pipeline does not need); the network is three LSTM layers over 40 mel bands and a projection,
trained with the generalised end-to-end loss so that one person's pieces lie close together
and different people's apart, whatever is being said. A piece is raised to -30 dBFS (never
lowered), cut into 1.6 s windows (a shorter piece is padded), and its windows' embeddings are
averaged and normalised. Like the MFCCs, the embedding is a voiceprint: used in memory by the
voice stage, never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import torch
from torch import nn

from analysis.weights.speech import GE2E_SPEAKER_ENCODER, shipped_path

SAMPLE_RATE_HZ = 16000
MEL_BANDS = 40
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
PARTIAL_FRAMES = 160  # 1.6 s per window
PARTIAL_STEP_FRAMES = 77  # about 1.3 windows a second
TARGET_DBFS = -30.0
EMBEDDING_SIZE = 256
BATCH_WINDOWS = 64  # windows per LSTM call


class SpeakerEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(MEL_BANDS, EMBEDDING_SIZE, num_layers=3, batch_first=True)
        self.linear = nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """(windows, PARTIAL_FRAMES, MEL_BANDS) -> (windows, 256), each of length one."""
        _, (hidden, _) = self.lstm(mels)
        raw = torch.relu(self.linear(hidden[-1]))
        unit: torch.Tensor = raw / raw.norm(dim=1, keepdim=True).clamp(min=1e-9)
        return unit


@cache
def speaker_encoder() -> SpeakerEncoder:
    path = shipped_path(GE2E_SPEAKER_ENCODER)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    weights = {k: v for k, v in checkpoint["model_state"].items() if not k.startswith("similarity")}
    model = SpeakerEncoder()
    model.load_state_dict(weights)
    return model.eval()


def _mel_frames(samples: np.ndarray) -> np.ndarray:
    import librosa

    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) + 1e-10
    gain = max(1.0, 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20))
    mel = librosa.feature.melspectrogram(
        y=(samples * gain).astype(np.float32),
        sr=SAMPLE_RATE_HZ,
        n_fft=WINDOW_SAMPLES,
        hop_length=HOP_SAMPLES,
        n_mels=MEL_BANDS,
    )
    return np.asarray(mel.T, dtype=np.float32)  # (frames, bands)


def _windows(samples: np.ndarray) -> np.ndarray:
    """(windows, PARTIAL_FRAMES, MEL_BANDS): the piece's overlapping 1.6 s windows."""
    frames = _mel_frames(samples)
    if len(frames) < PARTIAL_FRAMES:
        frames = np.pad(frames, ((0, PARTIAL_FRAMES - len(frames)), (0, 0)))
    starts = range(0, len(frames) - PARTIAL_FRAMES + 1, PARTIAL_STEP_FRAMES)
    return np.stack([frames[s : s + PARTIAL_FRAMES] for s in starts])


@torch.inference_mode()
def speaker_embeddings(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """(len(pieces), 256) float32, each row of length one, for pieces of 16 kHz mono speech.

    All the pieces' windows go through the LSTM together, `BATCH_WINDOWS` at a time: one
    window at a time, the threads spend more time meeting than multiplying (five times
    slower on two threads).
    """
    if not pieces:
        return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
    windows = [_windows(samples) for samples in pieces]
    stacked = torch.from_numpy(np.concatenate(windows))
    encoder = speaker_encoder()
    embedded = torch.cat(
        [encoder(stacked[i : i + BATCH_WINDOWS]) for i in range(0, len(stacked), BATCH_WINDOWS)]
    )
    owner = torch.repeat_interleave(torch.tensor([len(w) for w in windows]))
    means = torch.zeros(len(pieces), EMBEDDING_SIZE).index_add_(0, owner, embedded)
    unit = means / means.norm(dim=1, keepdim=True).clamp(min=1e-9)
    return np.asarray(unit.numpy(), dtype=np.float32)


def speaker_embedding(samples: np.ndarray) -> np.ndarray:
    """(256,) float32, length one, for 16 kHz mono speech."""
    embedding: np.ndarray = speaker_embeddings([samples])[0]
    return embedding
