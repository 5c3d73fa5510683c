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

import numpy as np
import torch

from analysis.errors import Cancelled
from analysis.face.align import aligned_grey_faces, mouth_motion
from analysis.face.baseline import relative_to_rest, rest_baseline
from analysis.face.detect import DetectorOptions, FaceDetector, frames_to_tensor
from analysis.face.expression import to_model_input
from analysis.face.loading import face_model_specs
from analysis.face.sequence import FaceSequenceModel, load_head_model
from analysis.face.track import FaceTracker, TrackedFace, TrackerOptions
from analysis.labels import EMOTIONS, valence_arousal
from analysis.media import VideoFrame, iter_video_frames, probe, require_video
from analysis.stage_outputs import (
    AttentionFrame,
    FaceBaseline,
    FaceOutput,
    FaceTrack,
    FaceWindow,
)

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


@dataclass
class _TrackResult:
    """A face track's per-frame record while the video streams (FaceTrack once complete)."""

    track_id: int
    times_s: list[float] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)  # x1, y1, x2, y2
    landmarks: list[list[list[float]]] = field(default_factory=list)  # 5 x (x, y)
    det_scores: list[float] = field(default_factory=list)
    frame_probs: list[list[float]] = field(default_factory=list)  # 7 per frame, EMOTIONS order
    mouth_motion: list[float] = field(default_factory=list)  # 0..1; 0 after a gap
    windows: list[FaceWindow] = field(default_factory=list)
    baseline: FaceBaseline | None = None

    def frozen(self) -> FaceTrack:
        return FaceTrack(
            track_id=self.track_id,
            times_s=self.times_s,
            boxes=self.boxes,
            landmarks=self.landmarks,
            det_scores=self.det_scores,
            frame_probs=self.frame_probs,
            mouth_motion=self.mouth_motion,
            windows=tuple(sorted(self.windows, key=lambda w: w.start_s)),
            baseline=self.baseline,
        )


@dataclass
class _TrackFrames:
    """Everything kept per face per sampled frame while the video streams."""

    result: _TrackResult
    features: list[np.ndarray] = field(default_factory=list)  # (128,) each
    log_probs: list[np.ndarray] = field(default_factory=list)  # (7,) each
    last_index: int = -2
    last_crop: torch.Tensor | None = None  # (64, 64) uint8


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
        _process_batch(batch, options, detector, tracker, model, tracks)
        if progress is not None:
            progress(min(1.0, (batch[-1].t_s + 1 / options.sample_fps) / info.duration_s))
        batch.clear()

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

    kept = [t for t in tracks.values() if len(t.result.times_s) >= options.min_track_frames]
    _summarise_windows(kept, options, model)
    reference = model.encoder.rest_reference
    if reference is not None:
        for track in kept:
            _read_against_rest(track.result, np.asarray(reference))
    results = []
    for new_id, track in enumerate(sorted(kept, key=lambda t: t.result.times_s[0])):
        track.result.track_id = new_id
        _to_display_pixels(track.result, scale)
        results.append(track.result.frozen())
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
    model: FaceSequenceModel,
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
            track = tracks.setdefault(face.track_id, _TrackFrames(_TrackResult(face.track_id)))
            _record_frame(track, frame, face, crop)
            owners.append(track)
        crops.append(face_crops)
    if not crops:
        return
    all_crops = torch.cat(crops)
    for start in range(0, len(all_crops), CNN_BATCH_FACES):
        chunk = to_model_input(all_crops[start : start + CNN_BATCH_FACES])
        features, log_probs = model.encode(chunk)
        # To the host once per batch (one transfer from a GPU, not three per face).
        features_np = features.cpu().numpy()
        log_probs_np = log_probs.cpu().numpy()
        probs = [[round(p, 4) for p in row] for row in log_probs.exp().cpu().tolist()]
        for k, track in enumerate(owners[start : start + CNN_BATCH_FACES]):
            track.features.append(features_np[k])
            track.log_probs.append(log_probs_np[k])
            track.result.frame_probs.append(probs[k])


def _record_frame(
    track: _TrackFrames, frame: VideoFrame, face: TrackedFace, crop: torch.Tensor
) -> None:
    result = track.result
    result.times_s.append(round(frame.t_s, 3))
    result.boxes.append([float(v) for v in face.box])
    result.landmarks.append([[float(x), float(y)] for x, y in face.landmarks])
    result.det_scores.append(round(face.score, 4))
    consecutive = track.last_crop is not None and track.last_index == frame.index - 1
    motion = (
        float(mouth_motion(track.last_crop[None], crop[None])[0])
        if (consecutive and track.last_crop is not None)
        else 0.0
    )
    result.mouth_motion.append(round(motion, 4))
    track.last_crop, track.last_index = crop, frame.index


@torch.inference_mode()
def _summarise_windows(
    tracks: list[_TrackFrames], options: FaceOptions, model: FaceSequenceModel
) -> None:
    """Run the temporal head on every (track, window) with frames, in padded batches."""
    device = next(model.parameters()).device
    jobs: list[tuple[_TrackFrames, int, np.ndarray]] = []  # track, window number, frame rows
    for track in tracks:
        times = np.asarray(track.result.times_s)
        numbers = np.floor(times / options.window_s + 1e-9).astype(int)
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
            features[b, : len(rows)] = torch.from_numpy(np.stack([track.features[r] for r in rows]))
            log_probs[b, : len(rows)] = torch.from_numpy(
                np.stack([track.log_probs[r] for r in rows])
            )
            mask[b, : len(rows)] = True
        logits, attention = model.head(features.to(device), log_probs.to(device), mask.to(device))
        probs = torch.softmax(logits, dim=-1).cpu().numpy()
        attention_np = attention.cpu().numpy()
        for b, (track, number, rows) in enumerate(chunk):
            window = _window_result(
                track, number, rows, probs[b], attention_np[b], options, expected_frames
            )
            track.result.windows.append(window)


def _window_result(
    track: _TrackFrames,
    number: int,
    rows: np.ndarray,
    probs: np.ndarray,
    attention: np.ndarray,
    options: FaceOptions,
    expected_frames: float,
) -> FaceWindow:
    entropy = -float(np.sum(probs * np.log(np.clip(probs, 1e-12, 1.0))))
    certainty = 1.0 - entropy / math.log(len(EMOTIONS))
    detection = float(np.mean([track.result.det_scores[r] for r in rows]))
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
            AttentionFrame(t_s=track.result.times_s[rows[i]], weight=round(float(attention[i]), 4))
            for i in top
        ),
    )


def _read_against_rest(result: _TrackResult, reference: np.ndarray) -> None:
    """Add the track's rest baseline and each window's reading relative to it."""
    baseline = rest_baseline(result.frame_probs)
    result.baseline = FaceBaseline(
        probs={k: round(float(p), 4) for k, p in zip(EMOTIONS, baseline.probs, strict=True)},
        frames=baseline.frames,
        reliable=baseline.reliable,
    )
    for i, window in enumerate(result.windows):
        probs = np.array([window.probs[label] for label in EMOTIONS])
        relative = relative_to_rest(probs, baseline, reference)
        valence, arousal = valence_arousal(relative)
        result.windows[i] = replace(
            window,
            relative_probs={k: round(float(p), 4) for k, p in zip(EMOTIONS, relative, strict=True)},
            relative_valence=round(valence, 4),
            relative_arousal=round(arousal, 4),
        )


def _to_display_pixels(result: _TrackResult, scale: float) -> None:
    result.boxes = [[round(v * scale, 1) for v in box] for box in result.boxes]
    result.landmarks = [
        [[round(x * scale, 1), round(y * scale, 1)] for x, y in points]
        for points in result.landmarks
    ]
