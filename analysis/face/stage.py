"""The face stage: recording in, face tracks with per-frame and per-window emotion out.

Streams the video at `sample_fps`, in batches: full MTCNN on every k-th sampled frame
(batched), O-Net tracking in between, aligned crops through the mini-Xception (batched), and
only per-frame results and 135 numbers of CNN output per face kept in memory. At the end the
temporal head (LSTM + attention) reads each track window by window.

Boxes and landmarks are reported in the displayed video's pixel coordinates (after rotation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from analysis.errors import Cancelled
from analysis.face.align import aligned_grey_faces, mouth_motion
from analysis.face.baseline import relative_to_rest, rest_baseline
from analysis.face.detect import DetectorOptions, FaceDetector, frames_to_tensor
from analysis.face.expression import to_model_input
from analysis.face.loading import expression_network, face_model_specs
from analysis.face.sequence import FaceSequenceModel, load_head_model
from analysis.face.track import FaceTracker, TrackedFace, TrackerOptions
from analysis.labels import EMOTIONS, valence_arousal
from analysis.media import VideoFrame, iter_video_frames, probe, require_video
from analysis.onnx_engine import Network, release_sessions
from analysis.stage_outputs import (
    FACE_FRAME_COLUMNS,
    AttentionFrame,
    FaceBaseline,
    FaceOutput,
    FaceTrack,
    FaceWindow,
)
from analysis.threads import follow_thread_share

CNN_BATCH_FACES = 256  # crops per mini-Xception forward pass
HEAD_BATCH_WINDOWS = 512  # windows per temporal-head forward pass


@dataclass(frozen=True)
class FaceOptions:
    sample_fps: float = 5.0  # frames analysed per second of video
    detect_every_k: int = 5  # full detection on every k-th sampled frame; O-Net tracking between
    max_side_px: int = 480  # frames are decoded no larger than this (longer side) for analysis
    min_face_px: float = 24.0  # smallest face searched for, in pixels of the decoded frame
    window_s: float = 2.0  # length of the time windows the temporal head summarises
    checkpoint: Path | None = None  # temporal-head checkpoint; None = the shipped default
    batch_size: int = 16  # sampled frames decoded and detected together
    min_track_frames: int = 3  # shorter tracks are dropped as spurious detections
    attention_top_k: int = 3  # frames per window kept as attention evidence


class _Rows:
    """Rows of one shape, appended one sampled frame at a time, kept in numpy blocks: a long
    recording's per-frame results grow by a few bytes a frame, not by a Python list's."""

    BLOCK_ROWS = 1024

    def __init__(self, shape: tuple[int, ...], dtype: type[np.floating[Any]]) -> None:
        self._shape, self._dtype = shape, dtype
        self._blocks: list[np.ndarray] = []
        self._count = 0

    def append(self, row: Any) -> None:
        at = self._count % self.BLOCK_ROWS
        if at == 0:
            self._blocks.append(np.empty((self.BLOCK_ROWS, *self._shape), self._dtype))
        self._blocks[-1][at] = row
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def array(self) -> np.ndarray:
        if not self._blocks:
            return np.empty((0, *self._shape), self._dtype)
        return np.concatenate(self._blocks)[: self._count]


@dataclass
class _TrackFrames:
    """Everything kept per face per sampled frame while the video streams: the output's
    columns (FACE_FRAME_COLUMNS) and the CNN's embedding and log-probabilities for the head."""

    track_id: int
    feature_dim: int
    columns: dict[str, _Rows] = field(init=False)
    features: _Rows = field(init=False)  # (D,) each
    log_probs: _Rows = field(init=False)  # (7,) each
    last_index: int = -2
    last_crop: torch.Tensor | None = None  # (64, 64) uint8

    def __post_init__(self) -> None:
        self.columns = {name: _Rows(shape, dtype) for name, _, dtype, shape in FACE_FRAME_COLUMNS}
        self.features = _Rows((self.feature_dim,), np.float32)
        self.log_probs = _Rows((len(EMOTIONS),), np.float32)

    def __len__(self) -> int:
        return len(self.columns["times_s"])


@dataclass
class _Track:
    """A finished track's arrays, as the temporal head reads them."""

    columns: dict[str, np.ndarray]
    features: np.ndarray  # (n, D)
    log_probs: np.ndarray  # (n, 7)
    windows: list[FaceWindow] = field(default_factory=list)
    baseline: FaceBaseline | None = None

    @property
    def times_s(self) -> np.ndarray:
        return self.columns["times_s"]

    @classmethod
    def of(cls, frames: _TrackFrames) -> _Track:
        return cls(
            {name: rows.array() for name, rows in frames.columns.items()},
            frames.features.array(),
            frames.log_probs.array(),
        )

    def frozen(self, track_id: int) -> FaceTrack:
        return FaceTrack(
            track_id=track_id,
            **self.columns,
            windows=tuple(sorted(self.windows, key=lambda w: w.start_s)),
            baseline=self.baseline,
        )


def run_face_stage(
    path: Path,
    options: FaceOptions | None = None,
    progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> FaceOutput:
    options = options or FaceOptions()
    info = probe(path)
    require_video(info)
    model = load_head_model(options.checkpoint)
    cnn = expression_network(model.encoder)
    detector = FaceDetector(DetectorOptions(min_face_px=options.min_face_px))
    tracker = FaceTracker(TrackerOptions(keep_score=detector.options.onet_threshold))
    tracks: dict[int, _TrackFrames] = {}
    batch: list[VideoFrame] = []
    scale = 1.0

    def flush() -> None:
        nonlocal scale
        if should_cancel is not None and should_cancel():
            raise Cancelled()
        scale = (info.width or batch[0].rgb.shape[1]) / batch[0].rgb.shape[1]
        follow_thread_share()  # wider once the stage runs alone
        _process_batch(batch, options, detector, tracker, cnn, model, tracks)
        if progress is not None:
            progress(min(1.0, (batch[-1].t_s + 1 / options.sample_fps) / info.duration_s))
        batch.clear()

    try:
        for frame in iter_video_frames(
            path, sample_fps=options.sample_fps, max_side_px=options.max_side_px
        ):
            if batch and frame.rgb.shape != batch[0].rgb.shape:
                flush()
            batch.append(frame)
            if len(batch) >= options.batch_size:
                flush()
        if batch:
            flush()
    finally:
        release_sessions()  # what ONNX Runtime holds for the largest batch, before what follows

    kept = [_Track.of(t) for t in tracks.values() if len(t) >= options.min_track_frames]
    tracks.clear()
    follow_thread_share()
    _summarise_windows(kept, options, model)
    reference = model.encoder.rest_reference
    if reference is not None:
        for track in kept:
            _read_against_rest(track, np.asarray(reference))
    results = []
    for new_id, track in enumerate(sorted(kept, key=lambda t: float(t.times_s[0]))):
        _to_display_pixels(track, scale)
        results.append(track.frozen(new_id))
    if progress is not None:
        progress(1.0)
    models = [spec.to_provenance() for spec in face_model_specs(options.checkpoint)]
    return FaceOutput(
        sample_fps=options.sample_fps,
        duration_s=info.duration_s,
        no_face=not results,
        tracks=tuple(results),
        models=tuple(models),
    )


@torch.inference_mode()
def _process_batch(
    batch: list[VideoFrame],
    options: FaceOptions,
    detector: FaceDetector,
    tracker: FaceTracker,
    cnn: Network,  # the expression CNN as the face engine runs it
    model: FaceSequenceModel,  # for the sizes of what its head reads
    tracks: dict[int, _TrackFrames],
) -> None:
    images = frames_to_tensor([frame.rgb for frame in batch])  # (B, 3, H, W)
    detect_rows = [i for i, f in enumerate(batch) if f.index % options.detect_every_k == 0]
    detected = (
        dict(zip(detect_rows, detector.detect(images[detect_rows]), strict=True))
        if (detect_rows)
        else {}
    )
    crops: list[torch.Tensor] = []
    owners: list[_TrackFrames] = []
    for row, frame in enumerate(batch):
        carried = detector.refine(images[row : row + 1], [tracker.live_boxes()])[0]
        faces = tracker.update(images[row], frame.t_s, carried, detected.get(row))
        if not faces:
            continue
        face_crops = aligned_grey_faces(
            images[row],
            torch.from_numpy(np.stack([f.box for f in faces])).to(images.device),
            torch.from_numpy(np.stack([f.landmarks for f in faces])).to(images.device),
        )
        for face, crop in zip(faces, face_crops, strict=True):
            track = tracks.get(face.track_id)
            if track is None:
                feature_dim = model.head.config.feature_dim
                track = tracks[face.track_id] = _TrackFrames(face.track_id, feature_dim)
            _record_frame(track, frame, face, crop)
            owners.append(track)
        crops.append(face_crops)
    if not crops:
        return
    all_crops = torch.cat(crops)
    for start in range(0, len(all_crops), CNN_BATCH_FACES):
        chunk = to_model_input(all_crops[start : start + CNN_BATCH_FACES])
        features, logits = cnn(chunk)
        log_probs = F.log_softmax(logits, dim=-1)
        # To the host once per batch (one transfer from a GPU, not three per face).
        features_np = features.cpu().numpy()
        log_probs_np = log_probs.cpu().numpy()
        probs = np.round(np.exp(log_probs_np.astype(np.float64)), 4)
        for k, track in enumerate(owners[start : start + CNN_BATCH_FACES]):
            track.features.append(features_np[k])
            track.log_probs.append(log_probs_np[k])
            track.columns["frame_probs"].append(probs[k])


def _record_frame(
    track: _TrackFrames, frame: VideoFrame, face: TrackedFace, crop: torch.Tensor
) -> None:
    columns = track.columns
    columns["times_s"].append(round(frame.t_s, 3))
    columns["boxes"].append(face.box)
    columns["landmarks"].append(face.landmarks)
    columns["det_scores"].append(round(face.score, 4))
    consecutive = track.last_crop is not None and track.last_index == frame.index - 1
    motion = (
        float(mouth_motion(track.last_crop[None], crop[None])[0])
        if (consecutive and track.last_crop is not None)
        else 0.0
    )
    columns["mouth_motion"].append(round(motion, 4))
    track.last_crop, track.last_index = crop, frame.index


@torch.inference_mode()
def _summarise_windows(
    tracks: list[_Track], options: FaceOptions, model: FaceSequenceModel
) -> None:
    """Run the temporal head on every (track, window) with frames, in padded batches."""
    device = next(model.parameters()).device
    jobs: list[tuple[_Track, int, np.ndarray]] = []  # track, window number, frame rows
    for track in tracks:
        numbers = np.floor(track.times_s / options.window_s + 1e-9).astype(int)
        for number in np.unique(numbers):
            jobs.append((track, int(number), np.nonzero(numbers == number)[0]))
    expected_frames = options.window_s * options.sample_fps
    for start in range(0, len(jobs), HEAD_BATCH_WINDOWS):
        chunk = jobs[start : start + HEAD_BATCH_WINDOWS]
        steps = max(len(rows) for _, _, rows in chunk)
        features = torch.zeros(len(chunk), steps, model.head.config.feature_dim)
        log_probs = torch.zeros(len(chunk), steps, model.head.config.n_classes)
        mask = torch.zeros(len(chunk), steps, dtype=torch.bool)
        for b, (track, _, rows) in enumerate(chunk):
            features[b, : len(rows)] = torch.from_numpy(track.features[rows])
            log_probs[b, : len(rows)] = torch.from_numpy(track.log_probs[rows])
            mask[b, : len(rows)] = True
        logits, attention = model.head(features.to(device), log_probs.to(device), mask.to(device))
        probs = torch.softmax(logits, dim=-1).cpu().numpy()
        attention_np = attention.cpu().numpy()
        for b, (track, number, rows) in enumerate(chunk):
            window = _window_result(
                track, number, rows, probs[b], attention_np[b], options, expected_frames
            )
            track.windows.append(window)


def _window_result(
    track: _Track,
    number: int,
    rows: np.ndarray,
    probs: np.ndarray,
    attention: np.ndarray,
    options: FaceOptions,
    expected_frames: float,
) -> FaceWindow:
    entropy = -float(np.sum(probs * np.log(np.clip(probs, 1e-12, 1.0))))
    certainty = 1.0 - entropy / math.log(len(EMOTIONS))
    detection = float(np.mean(track.columns["det_scores"][rows], dtype=np.float64))
    coverage = min(1.0, len(rows) / expected_frames)
    valence, arousal = valence_arousal(probs)
    top = np.argsort(-attention[: len(rows)])[: options.attention_top_k]
    return FaceWindow(
        start_s=round(number * options.window_s, 3),
        end_s=round((number + 1) * options.window_s, 3),
        probs={label: round(float(p), 4) for label, p in zip(EMOTIONS, probs, strict=True)},
        valence=round(valence, 4),
        arousal=round(arousal, 4),
        confidence=round(certainty * detection * coverage, 4),
        attention=tuple(
            AttentionFrame(t_s=float(track.times_s[rows[i]]), weight=round(float(attention[i]), 4))
            for i in top
        ),
    )


def _read_against_rest(track: _Track, reference: np.ndarray) -> None:
    """Add the track's rest baseline and each window's reading relative to it."""
    baseline = rest_baseline(track.columns["frame_probs"])
    track.baseline = FaceBaseline(
        probs={k: round(float(p), 4) for k, p in zip(EMOTIONS, baseline.probs, strict=True)},
        frames=baseline.frames,
        reliable=baseline.reliable,
    )
    for i, window in enumerate(track.windows):
        probs = np.array([window.probs[label] for label in EMOTIONS])
        relative = relative_to_rest(probs, baseline, reference)
        valence, arousal = valence_arousal(relative)
        track.windows[i] = replace(
            window,
            relative_probs={k: round(float(p), 4) for k, p in zip(EMOTIONS, relative, strict=True)},
            relative_valence=round(valence, 4),
            relative_arousal=round(arousal, 4),
        )


def _to_display_pixels(track: _Track, scale: float) -> None:
    # In float64, then kept to the tenth of a pixel the output is written with.
    for name in ("boxes", "landmarks"):
        pixels = track.columns[name].astype(np.float64) * scale
        track.columns[name] = np.round(pixels, 1).astype(np.float32)
