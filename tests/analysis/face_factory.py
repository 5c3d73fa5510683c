"""Real faces for tests: scikit-image's astronaut (public domain) and its LFW subset.

`lfw_subset()` holds 100 face crops followed by 100 non-face crops, 25x25 grey.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

LFW_FACES = 100


@cache
def astronaut() -> np.ndarray:
    return data.astronaut()


def astronaut_head(height_px: int = 110) -> np.ndarray:
    """Eileen Collins' smiling head and shoulders, resized so the whole crop is height_px tall."""
    crop = astronaut()[10:230, 140:340]
    width_px = round(height_px * crop.shape[1] / crop.shape[0])
    return np.asarray(Image.fromarray(crop).resize((width_px, height_px), Image.Resampling.BICUBIC))


@cache
def lfw() -> np.ndarray:
    return data.lfw_subset()


def lfw_rgb(index: int, size_px: int = 25) -> np.ndarray:
    """One LFW crop as RGB uint8, optionally upscaled (bicubic)."""
    grey = (lfw()[index] * 255).round().astype(np.uint8)
    image = Image.fromarray(grey).convert("RGB")
    if size_px != grey.shape[0]:
        image = image.resize((size_px, size_px), Image.Resampling.BICUBIC)
    return np.asarray(image)


def write_image_sequence(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:03d}.png")
    return folder


def shifted(image: np.ndarray, offset: np.ndarray, brightness: float = 1.0) -> np.ndarray:
    """The image moved by offset (dx, dy) px, edges repeated, as a head moves between frames."""
    dx, dy = (int(v) for v in offset)
    padded = np.pad(image, ((8, 8), (8, 8), (0, 0)), mode="edge")
    h, w = image.shape[:2]
    moved = padded[8 + dy : 8 + dy + h, 8 + dx : 8 + dx + w].astype(np.float32) * brightness
    return moved.clip(0, 255).astype(np.uint8)


def write_two_class_clips(root: Path, clips_per_class: int = 8, frames: int = 5) -> Path:
    """happy/: astronaut sequences with motion and lighting changes; neutral/: LFW faces.

    The per-frame CNN calls the LFW faces many things, so learning "neutral" for them is
    something the temporal head has to learn from the data.
    """
    rng = np.random.default_rng(7)
    for k in range(clips_per_class):
        head = astronaut_head(96 + 4 * k)
        write_image_sequence(
            root / "Happiness" / f"astronaut_{k}",
            [
                shifted(head, rng.integers(-6, 7, 2), float(rng.uniform(0.7, 1.2)))
                for _ in range(frames)
            ],
        )
        face = lfw_rgb(k, size_px=96)
        write_image_sequence(
            root / "neutral" / f"lfw_{k}",
            [
                shifted(face, rng.integers(-4, 5, 2), float(rng.uniform(0.8, 1.2)))
                for _ in range(frames)
            ],
        )
    return root
