"""Labelled face sequences built from FER+ stills, for training the temporal head.

No labelled face video is available here, so each training clip is assembled from labelled
stills the way an expression unfolds in a session window:

- onset -> apex -> offset: a neutral face, a short cross-fade into a face showing the clip's
  emotion (held for most of the window), and sometimes a fade back out; the label is the
  apex's, the emotion the window mostly shows;
- one motion per clip: a slow random drift of position, scale, roll and light, the same
  chain for every frame of the clip, as one person moving in one room;
- blinks (a darker band over the eyes for a frame) and short occlusions (a hand, a cup)
  lasting a few consecutive frames.

Frames then pass through the temporal-head trainer's own augmentation (flips, crops,
dropped frames). Clips from FER+ `train` faces train the head; clips from `valid` faces are
held out to compare it with the plain average of the per-frame CNN.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from analysis.face.clips import FaceClip
from analysis.face.expression import INPUT_SIZE_PX
from analysis.face.ferplus import FerPlusSplit
from analysis.labels import EMOTIONS

NEUTRAL = EMOTIONS.index("neutral")
CLIP_FRAMES = 10  # 2 s at the pipeline's 5 frames a second
EYE_ROWS = (18, 28)  # rows of a 64 px FER-framed face that hold the eyes


def _drift(n: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    """A smooth random walk of n steps starting at 0, wandering about `scale` by its end."""
    steps = rng.normal(0.0, scale / math.sqrt(n), size=n)
    walk: np.ndarray = np.cumsum(steps)
    centred: np.ndarray = walk - walk[0]
    return centred


def _warp(faces: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(T, 1, 64, 64) float frames moved by one clip-long drift of shift, zoom, roll, light."""
    t = len(faces)
    angle = np.deg2rad(rng.uniform(-8, 8) + _drift(t, rng, 6.0))
    zoom = rng.uniform(0.92, 1.08) * np.exp(_drift(t, rng, 0.05))
    shift_x = rng.uniform(-0.06, 0.06) + _drift(t, rng, 0.05)
    shift_y = rng.uniform(-0.06, 0.06) + _drift(t, rng, 0.05)
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    theta = torch.tensor(
        np.stack(
            [np.stack([cos, -sin, shift_x], axis=1), np.stack([sin, cos, shift_y], axis=1)], axis=1
        ),
        dtype=torch.float32,
    )
    grid = F.affine_grid(theta, [t, 1, INPUT_SIZE_PX, INPUT_SIZE_PX], align_corners=False)
    moved = F.grid_sample(faces, grid, padding_mode="reflection", align_corners=False)
    light = torch.tensor(
        rng.uniform(0.8, 1.2) * np.exp(_drift(t, rng, 0.08)), dtype=torch.float32
    ).view(t, 1, 1, 1)
    return moved * light


def build_clip(
    apex: np.ndarray,
    onset: np.ndarray,
    label: int,
    rng: np.random.Generator,
    name: str,
    frames: int = CLIP_FRAMES,
) -> FaceClip:
    """One clip: `onset` (a neutral face) fading into `apex` (48 px stills), moving and blinking."""
    faces = torch.from_numpy(np.stack([onset, apex])).float()[:, None]  # (2, 1, 48, 48)
    faces = F.interpolate(faces, size=(INPUT_SIZE_PX, INPUT_SIZE_PX), mode="bilinear")
    # Share of the apex face in each frame: onset, a 2-frame fade, apex, maybe a fade out.
    rise = int(rng.integers(0, 3))
    mix = np.clip((np.arange(frames) - rise + 1) / 2.0, 0.0, 1.0)
    if rng.random() < 0.3:
        fall = frames - int(rng.integers(1, 3))
        mix = np.minimum(mix, np.clip((fall - np.arange(frames)) / 2.0 + 0.5, 0.0, 1.0))
    weights = torch.tensor(mix, dtype=torch.float32).view(frames, 1, 1, 1)
    sequence = faces[0:1] * (1 - weights) + faces[1:2] * weights  # (T, 1, 64, 64)
    sequence = _warp(sequence, rng)
    for i in np.flatnonzero(rng.random(frames) < 0.08):  # blinks
        sequence[i, :, EYE_ROWS[0] : EYE_ROWS[1]] *= 0.6
    if rng.random() < 0.25:  # something passes in front of the face for a few frames
        start = int(rng.integers(0, frames - 2))
        top, left = (int(v) for v in rng.integers(16, 44, size=2))
        sequence[start : start + int(rng.integers(2, 4)), :, top:, left:] = float(
            rng.uniform(0, 255)
        )
    crops = sequence[:, 0].clamp(0, 255).round().to(torch.uint8).numpy()
    return FaceClip(name=name, label=label, crops=crops, face_found=np.ones(frames, dtype=bool))


def ferplus_clips(split: FerPlusSplit, per_label: int, seed: int, prefix: str) -> list[FaceClip]:
    """`per_label` clips per emotion (fewer where the split has too few distinct faces)."""
    rng = np.random.default_rng(seed)
    neutral_faces = np.flatnonzero(split.majority == NEUTRAL)
    clips: list[FaceClip] = []
    for label in range(len(EMOTIONS)):
        faces = np.flatnonzero(split.majority == label)
        if not len(faces):
            continue
        # Rare classes reuse faces, each time with another onset, motion and occlusion.
        chosen = rng.choice(faces, size=per_label, replace=len(faces) < per_label)
        for k, index in enumerate(chosen):
            onset = int(rng.choice(neutral_faces))
            clips.append(
                build_clip(
                    split.images[index],
                    split.images[onset],
                    label,
                    rng,
                    name=f"{prefix}/{EMOTIONS[label]}/{k}",
                )
            )
    return clips
