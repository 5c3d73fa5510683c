"""Speech segments from Silero VAD, streamed over 16 kHz mono audio chunks.

The model keeps a recurrent state across 512-sample frames, so frames are fed in order across
chunk boundaries (a remainder shorter than a frame waits for the next chunk) and the whole
recording never has to sit in memory: only one probability per 32 ms frame is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from analysis.models.speech_weights import load_silero_vad

SAMPLE_RATE_HZ = 16000
FRAME_SAMPLES = 512
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE_HZ


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5  # a frame at or above this probability starts or continues speech
    neg_threshold: float = 0.35  # speech ends only once probability falls below this
    min_speech_s: float = 0.25  # shorter bursts are dropped (clicks, breaths)
    min_silence_s: float = 0.3  # shorter gaps do not split a segment
    speech_pad_s: float = 0.05  # added on both sides so word onsets are not clipped


@dataclass(frozen=True)
class SpeechSegment:
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, float]:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3)}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> SpeechSegment:
        return cls(float(data["start_s"]), float(data["end_s"]))


class SpeechProbabilities:
    """Feeds audio chunk by chunk and collects one speech probability per frame."""

    def __init__(self) -> None:
        self._model = load_silero_vad()
        self._model.reset_states()
        self._pending = np.zeros(0, dtype=np.float32)
        self._probs: list[float] = []
        self.origin_s: float | None = None

    @torch.inference_mode()
    def feed(self, start_s: float, samples: np.ndarray) -> None:
        if self.origin_s is None:
            self.origin_s = start_s
        audio = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        n_frames = len(audio) // FRAME_SAMPLES
        frames = torch.from_numpy(audio[: n_frames * FRAME_SAMPLES].copy()).view(
            n_frames, FRAME_SAMPLES
        )
        for frame in frames:  # (512,) each; the model's state carries from one to the next
            self._probs.append(float(self._model(frame[None], SAMPLE_RATE_HZ)))
        self._pending = audio[n_frames * FRAME_SAMPLES :]

    def result(self) -> np.ndarray:
        return np.asarray(self._probs, dtype=np.float32)


def segments_from_probabilities(
    probs: np.ndarray,
    options: VadOptions,
    *,
    origin_s: float = 0.0,
    duration_s: float | None = None,
) -> list[SpeechSegment]:
    """Hysteresis over frame probabilities, then merging short gaps and dropping short bursts."""
    raw: list[tuple[int, int]] = []
    start: int | None = None
    for i, p in enumerate(probs):
        if start is None and p >= options.threshold:
            start = i
        elif start is not None and p < options.neg_threshold:
            raw.append((start, i))
            start = None
    if start is not None:
        raw.append((start, len(probs)))

    merged: list[list[float]] = []
    for begin, end in raw:
        begin_s, end_s = begin * FRAME_S, end * FRAME_S
        if merged and begin_s - merged[-1][1] < options.min_silence_s:
            merged[-1][1] = end_s
        else:
            merged.append([begin_s, end_s])

    end_limit_s = duration_s if duration_s is not None else len(probs) * FRAME_S
    segments: list[SpeechSegment] = []
    for begin_s, end_s in merged:
        if end_s - begin_s < options.min_speech_s:
            continue
        padded_start = max(0.0, begin_s - options.speech_pad_s)
        if segments:
            padded_start = max(padded_start, segments[-1].end_s - origin_s)
        padded_end = min(end_limit_s, end_s + options.speech_pad_s)
        segments.append(SpeechSegment(origin_s + padded_start, origin_s + padded_end))
    return segments


def detect_speech(
    chunks: Iterable[tuple[float, np.ndarray]], options: VadOptions | None = None
) -> list[SpeechSegment]:
    """Speech segments of a stream of (start_s, mono 16 kHz samples) chunks."""
    tracker = SpeechProbabilities()
    for start_s, samples in chunks:
        tracker.feed(start_s, samples)
    return segments_from_probabilities(
        tracker.result(), options or VadOptions(), origin_s=tracker.origin_s or 0.0
    )
