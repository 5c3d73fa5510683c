"""Emotion distribution, valence and arousal of a sentence from frozen MiniLM embeddings.

A small trained head (analysis/text/emotion_head.json, built by `python -m
analysis.text.train_head`): multinomial logistic regression over the 7 Moodline labels trained
on GoEmotions, and ridge regression of valence and arousal trained on EmoBank. Its dev-split
results are in docs/models/text-emotion-head.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from analysis.labels import EMOTIONS
from analysis.weights.registry import verified_path
from analysis.weights.speech import TEXT_EMOTION_HEAD, load_sentence_encoder

HEAD_PATH = Path(__file__).with_name("emotion_head.json")
EMOBANK_CENTRE = 3.0  # EmoBank rates on 1..5 with 3 as neutral
EMOBANK_HALF_RANGE = 1.5  # ratings of 1.5 / 4.5 map to -1 / +1 (real sentences rarely go further)
ENCODE_BATCH = 64


@dataclass(frozen=True)
class TextEmotion:
    probs: dict[str, float]  # over EMOTIONS, sums to 1
    valence: float  # -1..1, EmoBank scale re-centred
    arousal: float  # -1..1


@cache
def _head() -> dict[str, np.ndarray]:
    data = json.loads(verified_path(HEAD_PATH, TEXT_EMOTION_HEAD.sha256).read_text())
    if tuple(data["labels"]) != EMOTIONS:
        raise ValueError("emotion head labels differ from analysis.labels.EMOTIONS")
    return {
        key: np.asarray(data[key], dtype=np.float32)
        for key in ("emotion_coef", "emotion_intercept", "va_coef", "va_intercept")
    }


def embed(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) normalised sentence embeddings."""
    vectors: np.ndarray = load_sentence_encoder().encode(
        list(texts), batch_size=ENCODE_BATCH, normalize_embeddings=True, convert_to_numpy=True
    )
    return vectors.astype(np.float32)


def emotions_from_embeddings(vectors: np.ndarray) -> list[TextEmotion]:
    head = _head()
    logits = vectors @ head["emotion_coef"].T + head["emotion_intercept"]  # (n, 7)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    va = vectors @ head["va_coef"].T + head["va_intercept"]  # (n, 2) on EmoBank's 1..5 scale
    va = np.clip((va - EMOBANK_CENTRE) / EMOBANK_HALF_RANGE, -1.0, 1.0)
    return [
        TextEmotion(
            probs={label: round(float(p), 4) for label, p in zip(EMOTIONS, row, strict=True)},
            valence=round(float(v), 4),
            arousal=round(float(a), 4),
        )
        for row, (v, a) in zip(probs, va, strict=True)
    ]


def text_emotions(texts: Sequence[str]) -> list[TextEmotion]:
    if not texts:
        return []
    return emotions_from_embeddings(embed(texts))
