"""An optional speech-emotion head: Moodline's seven labels from how a piece of speech sounds.

Logistic regression over what Whisper's encoder (tiny.en, the transcript's own model) makes of
the piece: the mean and deviation over time of its last layer (`emotion_features`), trained on
RAVDESS actors 01-08 (`python -m analysis train-speech-emotion`; figures are leave-one-actor-out,
docs/models/speech-emotion-ravdess.md). RAVDESS is CC BY-NC-SA 4.0, so a head trained on it may
not serve every deployment: it is off unless `MOODLINE_SPEECH_EMOTION=ravdess-nc`. When on,
every voice piece gets emotion probabilities, which fusion weighs like the face's and the words'.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from analysis.errors import ErrorCode, ModelError
from analysis.labels import EMOTIONS
from analysis.voice.prosody import SAMPLE_RATE_HZ

SETTING = "MOODLINE_SPEECH_EMOTION"
RAVDESS_NC = "ravdess-nc"
HEAD_PATH = Path(__file__).with_name("speech_emotion_head.json")
SOURCE = "speech-emotion head (RAVDESS, CC BY-NC-SA)"
MAX_ENCODED_S = 30.0  # Whisper's window: the encoder has positions for no more


def speech_emotion_setting() -> str | None:
    """The head asked for by MOODLINE_SPEECH_EMOTION (None: off, the default)."""
    value = os.environ.get(SETTING, "").strip()
    if value in ("", "off", "0"):
        return None
    if value != RAVDESS_NC:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"{SETTING}={value!r}: the only speech-emotion head is {RAVDESS_NC!r} (or leave unset)",
        )
    return value


def emotion_features(samples: np.ndarray) -> np.ndarray:
    """(768,) for one 16 kHz mono piece: the mean and the deviation over time of Whisper tiny.en's
    encoder output (384 wide). The encoder reads the piece alone, not padded to Whisper's 30 s:
    its positions are cut to the piece's length (a longer piece is read for its first
    MAX_ENCODED_S), many times cheaper, and the head was trained on features read the same way."""
    import torch
    import torch.nn.functional as F
    import whisper

    from analysis.weights.speech import load_whisper

    encoder = load_whisper().encoder
    x = samples.astype(np.float32, copy=False)[: int(MAX_ENCODED_S * SAMPLE_RATE_HZ)]
    parameter = next(encoder.parameters())
    with torch.inference_mode():
        mel = whisper.log_mel_spectrogram(torch.from_numpy(x).to(parameter.device))
        mel = mel[:, : max(2, mel.shape[1] // 2 * 2)]  # the second convolution halves time
        # AudioEncoder.forward, with the positions the piece has rather than all 1500
        hidden = F.gelu(encoder.conv1(mel[None].to(parameter.dtype)))
        hidden = F.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
        hidden = hidden + encoder.positional_embedding[: hidden.shape[1]]
        for block in encoder.blocks:
            hidden = block(hidden)
        frames = encoder.ln_post(hidden)[0].float().cpu().numpy()
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float64)


@dataclass(frozen=True)
class SpeechEmotionHead:
    mean: np.ndarray  # (d,) feature standardisation
    scale: np.ndarray  # (d,)
    coef: np.ndarray  # (7, d)
    intercept: np.ndarray  # (7,)
    temperature: float  # fitted on the cross-validated probabilities

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, d) or (d,) features -> (n, 7) or (7,) probabilities over EMOTIONS."""
        z = (np.atleast_2d(features) - self.mean) / self.scale
        logits = (z @ self.coef.T + self.intercept) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return np.asarray(probs if features.ndim == 2 else probs[0])

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": list(EMOTIONS),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "temperature": self.temperature,
        }

    @staticmethod
    def from_dict(data: Mapping[str, object]) -> SpeechEmotionHead:
        if tuple(data["labels"]) != EMOTIONS:  # type: ignore[arg-type]
            raise ValueError("speech-emotion head labels differ from analysis.labels.EMOTIONS")
        return SpeechEmotionHead(
            mean=np.asarray(data["mean"]),
            scale=np.asarray(data["scale"]),
            coef=np.asarray(data["coef"]),
            intercept=np.asarray(data["intercept"]),
            temperature=float(data["temperature"]),  # type: ignore[arg-type]
        )


@cache
def shipped_head() -> SpeechEmotionHead:
    data = json.loads(HEAD_PATH.read_text())
    return SpeechEmotionHead.from_dict(data["head"])
