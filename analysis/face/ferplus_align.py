"""FER+ faces cropped the way the pipeline crops a face from a video frame.

The pipeline never sees FER2013's own framing: it finds a face with MTCNN and cuts a square
around the box, rotated so the eyes are level (`FaceCropper`, analysis/face/align.py). A CNN
trained on FER's framing would read faces cut another way. So each 48 px FER+ image is put
on a canvas (edge-padded, enlarged twice, so MTCNN's smallest face fits) and cut by the very
same cropper; the few where MTCNN finds no face keep FER's own framing at the model's size.

Cropping 32,137 images takes about 14 minutes on one core: the result is cached as an .npz
beside the data's other derived files (`var/` by default), keyed by the data file's size.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from analysis.face.augment import resize_faces
from analysis.face.clips import FaceCropper
from analysis.face.ferplus import FerPlusSplit

CANVAS_PAD_PX = 24  # each side, before enlarging: the 48 px face sits in a 96 px canvas
CANVAS_SCALE = 2  # then 192 px, so the face is well above MTCNN's smallest size


def ferplus_canvas(image: np.ndarray) -> np.ndarray:
    """(48, 48) grey FER+ face -> (192, 192, 3) RGB canvas for the face detector."""
    padded = np.pad(image, CANVAS_PAD_PX, mode="edge")
    large = np.kron(padded, np.ones((CANVAS_SCALE, CANVAS_SCALE), dtype=np.uint8))
    return np.repeat(large[:, :, None], 3, axis=2)


def align_faces(
    images: np.ndarray, cropper: FaceCropper | None = None, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 48) uint8 -> (N, 64, 64) uint8 pipeline-style crops and (N,) face-found flags."""
    cropper = cropper or FaceCropper()
    crops = np.empty((len(images), 64, 64), dtype=np.uint8)
    found = np.zeros(len(images), dtype=bool)
    for i in tqdm(range(len(images)), disable=not progress, desc="aligning FER+ faces"):
        crop, found[i] = cropper.crop(ferplus_canvas(images[i]))
        crops[i] = crop if found[i] else resize_faces(torch.from_numpy(images[i : i + 1]))[0]
    return crops, found


def aligned_cache(images: np.ndarray, cache: Path, progress: bool = True) -> np.ndarray:
    """`align_faces(images)`, read from `cache` when it holds the same images' crops."""
    fingerprint = np.frombuffer(images[:: max(1, len(images) // 64)].tobytes()[:4096], np.uint8)
    if cache.is_file():
        with np.load(cache) as saved:
            same = len(saved["crops"]) == len(images) and np.array_equal(
                saved["fingerprint"], fingerprint
            )
            if same:
                crops: np.ndarray = saved["crops"]
                return crops
    crops, found = align_faces(images, progress=progress)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, crops=crops, found=found, fingerprint=fingerprint)
    return crops


def with_aligned_faces(split: FerPlusSplit, cache: Path) -> FerPlusSplit:
    """The same split with each face as the pipeline would crop it (cached, see above)."""
    return replace(split, images=aligned_cache(split.images, cache))
