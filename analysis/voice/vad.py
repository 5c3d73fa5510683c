"""Speech segments from Silero VAD, streamed over 16 kHz mono audio chunks.

The model reads one 512-sample (32 ms) frame per call and carries a recurrent state from frame
to frame. Called frame by frame, an hour of audio is 112,500 calls, each too small to keep a
core busy. The audio is therefore cut into lanes of ~10 s decoded side by side as one batch,
each lane with its own state; a lane first reads the second of audio before it (warm-up, its
probabilities discarded) so its state matches what frame-by-frame reading would have reached.
Measured on speech with pauses: segment boundaries move by at most one frame, and the stage is
several times faster (benchmarks/vad.py). Audio waits in a bounded buffer (one batch, ~5 min),
so the whole recording never sits in memory: only one probability per frame is kept.

Silero is deliberately deaf to quiet speech, which it takes for someone talking in the
background, and a consulting room recorded from across the room is quiet throughout: read as
recorded, a conversation 35 dB quieter than a close microphone hears it loses a quarter of its
speech, and 40 dB quieter all of it. A batch whose loud frames lie below -30 dBFS is therefore
brought up to that level before it is read (by 24 dB at most); a louder one is read as it is,
and nothing is ever turned down. The gain is the detector's alone: every other stage hears the
recording as it was (benchmarks/speech_threshold.py, docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from analysis.weights.speech import load_silero_vad

SAMPLE_RATE_HZ = 16000
FRAME_SAMPLES = 512
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE_HZ
LANES = 32  # lanes in one batch: enough to keep two cores busy, ~21 MB of audio per batch
# 10.24 s per lane. The last, partial batch has as few lanes as it needs, of this length (one
# shorter lane for a recording under 10 s). (32 lanes of 2 s there restarted the state every
# 2 s of a short recording: an angry 2.6 s sentence read as silence, and RAVDESS two-voice
# conversations missed 16% of their speech instead of 12%.)
LANE_FRAMES = 320
WARMUP_FRAMES = 32  # 1 s of preceding audio read by each lane before its own frames
LOUD_PERCENTILE = 99  # of the frames' levels: the batch's loud speech, not one click


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5  # a frame at or above this probability starts or continues speech
    neg_threshold: float = 0.35  # speech ends only once probability falls below this
    min_speech_s: float = 0.25  # shorter bursts are dropped (clicks, breaths)
    min_silence_s: float = 0.3  # shorter gaps do not split a segment
    speech_pad_s: float = 0.05  # added on both sides so word onsets are not clipped
    # a batch whose loud frames (LOUD_PERCENTILE) are quieter than this is brought up to it...
    loud_dbfs: float = -30.0
    max_gain_db: float = 24.0  # ...by at most this much; 0 reads the audio as recorded


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


def level_gain(frames: np.ndarray, options: VadOptions) -> float:
    """The factor that brings (n, 512) frames up until their loud frames reach
    `options.loud_dbfs`: at least 1, at most `options.max_gain_db`."""
    if not len(frames) or options.max_gain_db <= 0:
        return 1.0
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    loud_db = 20 * np.log10(np.percentile(rms, LOUD_PERCENTILE) + 1e-10)
    return float(10 ** (np.clip(options.loud_dbfs - loud_db, 0.0, options.max_gain_db) / 20))


class SpeechProbabilities:
    """Feeds audio chunk by chunk and collects one speech probability per frame."""

    def __init__(self, options: VadOptions | None = None) -> None:
        self._options = options or VadOptions()
        self._model = load_silero_vad()
        self._pending: list[np.ndarray] = []  # whole frames not yet scored, (n, 512) each
        self._pending_frames = 0
        self._partial = np.zeros(0, dtype=np.float32)  # samples short of a whole frame
        self._history = np.zeros((0, FRAME_SAMPLES), dtype=np.float32)  # warm-up for the next
        self._probs: list[np.ndarray] = []
        self.origin_s: float | None = None

    def feed(self, start_s: float, samples: np.ndarray) -> None:
        if self.origin_s is None:
            self.origin_s = start_s
        audio = np.concatenate([self._partial, samples.astype(np.float32, copy=False)])
        n_frames = len(audio) // FRAME_SAMPLES
        if n_frames:
            self._pending.append(audio[: n_frames * FRAME_SAMPLES].reshape(n_frames, -1))
            self._pending_frames += n_frames
        self._partial = audio[n_frames * FRAME_SAMPLES :]
        while self._pending_frames >= LANES * LANE_FRAMES:
            self._score(self._take(LANES * LANE_FRAMES), LANE_FRAMES)

    def result(self) -> np.ndarray:
        """Probabilities of every whole frame fed so far (a last partial frame is not scored)."""
        if self._pending_frames:
            frames = self._pending_frames
            self._score(self._take(frames), min(LANE_FRAMES, frames))
        if not self._probs:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._probs)

    def _take(self, n_frames: int) -> np.ndarray:
        pending = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        taken, rest = pending[:n_frames], pending[n_frames:]
        self._pending = [rest] if len(rest) else []
        self._pending_frames = len(rest)
        return taken

    @torch.inference_mode()
    def _score(self, frames: np.ndarray, lane_frames: int) -> None:
        """Score `frames` (n, 512) as lanes of `lane_frames`, each warmed up on what precedes it;
        the batch (and its warm-up) at the batch's level gain."""
        gain = level_gain(frames, self._options)
        stream = np.concatenate([self._history, frames])
        offset = len(self._history)  # where `frames` starts in `stream`
        n_lanes = -(-len(frames) // lane_frames)
        batch = np.zeros((n_lanes, WARMUP_FRAMES + lane_frames, FRAME_SAMPLES), np.float32)
        for lane in range(n_lanes):
            start = offset + lane * lane_frames
            warmup = stream[max(0, start - WARMUP_FRAMES) : start]
            own = stream[start : start + lane_frames]
            # a lane with less history than the warm-up starts on silence, as the recording does
            batch[lane, WARMUP_FRAMES - len(warmup) : WARMUP_FRAMES] = warmup
            batch[lane, WARMUP_FRAMES : WARMUP_FRAMES + len(own)] = own
        lanes = torch.from_numpy(np.clip(batch * gain, -1.0, 1.0))
        self._model.reset_states()
        steps = [
            self._model(lanes[:, step], SAMPLE_RATE_HZ)[:, 0] for step in range(lanes.shape[1])
        ]
        probs = torch.stack(steps[WARMUP_FRAMES:], dim=1).reshape(-1)[: len(frames)]
        self._probs.append(probs.numpy().astype(np.float32))
        self._history = stream[-WARMUP_FRAMES:].copy()


@torch.inference_mode()
def frame_by_frame_probabilities(
    audio: np.ndarray, options: VadOptions | None = None
) -> np.ndarray:
    """Silero read the plain way, one frame per call with one state carried through the whole
    recording, each batch's span at its level gain as the lanes read it: the reference the lanes
    are checked against (tests, benchmarks/vad.py)."""
    options = options or VadOptions()
    model = load_silero_vad()
    model.reset_states()
    n_frames = len(audio) // FRAME_SAMPLES
    frames = np.ascontiguousarray(audio[: n_frames * FRAME_SAMPLES], np.float32)
    frames = frames.reshape(n_frames, FRAME_SAMPLES)
    batch = LANES * LANE_FRAMES
    levelled = np.concatenate(
        [
            np.clip(frames[i : i + batch] * level_gain(frames[i : i + batch], options), -1, 1)
            for i in range(0, n_frames, batch)
        ]
        or [frames]
    )
    return np.array(
        [float(model(frame[None], SAMPLE_RATE_HZ)) for frame in torch.from_numpy(levelled)],
        dtype=np.float32,
    )


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
    options = options or VadOptions()
    tracker = SpeechProbabilities(options)
    for start_s, samples in chunks:
        tracker.feed(start_s, samples)
    return segments_from_probabilities(tracker.result(), options, origin_s=tracker.origin_s or 0.0)
