"""Labelled face data on disk -> aligned 64x64 grey face crops, for training and evaluation.

Layouts (label folder names are matched case-insensitively, with synonyms; see
`analysis.labels.canonical_label`):
  DIR/<label>/<clip>.mp4 (any video)     a clip: the largest face of each sampled frame
  DIR/<label>/<clip>/<frame>.png|jpg     a clip given as an image sequence
  DIR/<label>/<image>.png|jpg            a single image (evaluation)
When no face is found in an image, the whole image (centre square) is used instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from analysis.errors import ErrorCode, MediaError
from analysis.face.align import aligned_grey_faces
from analysis.face.detect import DetectorOptions, FaceDetector, frames_to_tensor
from analysis.face.expression import INPUT_SIZE_PX
from analysis.labels import EMOTIONS, canonical_label
from analysis.media import iter_video_frames

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
SMALL_IMAGE_PX = 96  # smaller images (e.g. 48x48 FER crops) are upscaled before detection
CLIP_SAMPLE_FPS = 5.0
MAX_CLIP_FRAMES = 64


@dataclass(frozen=True)
class FaceClip:
    name: str  # path relative to the data folder
    label: int  # index into EMOTIONS
    crops: np.ndarray  # (T, 64, 64) uint8 aligned grey faces
    face_found: np.ndarray  # (T,) bool: False where the whole image stood in for a face


def labelled_items(root: Path) -> Iterator[tuple[Path, int]]:
    """(path, label index) of every clip or image under label folders, in a stable order."""
    if not root.is_dir():
        raise MediaError(ErrorCode.NOT_MEDIA, f"{root} is not a folder of labelled data")
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = canonical_label(folder.name)
        if label is None:
            continue
        for item in sorted(folder.iterdir()):
            if item.is_dir() or item.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                yield item, EMOTIONS.index(label)


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    if max(rgb.shape[:2]) < SMALL_IMAGE_PX:
        factor = SMALL_IMAGE_PX / max(rgb.shape[:2])
        size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
        with Image.fromarray(rgb) as small:
            rgb = np.asarray(small.resize(size, Image.Resampling.BICUBIC))
    return rgb


class FaceCropper:
    """The largest face of each image, aligned for the CNN; whole image when none is found."""

    def __init__(self, detector: FaceDetector | None = None) -> None:
        self.detector = detector or FaceDetector(DetectorOptions(min_face_px=20.0))

    @torch.inference_mode()
    def crop(self, rgb: np.ndarray) -> tuple[np.ndarray, bool]:
        image = frames_to_tensor([rgb])
        faces = self.detector.detect(image)[0]
        if len(faces):
            areas = np.prod(faces.boxes[:, 2:] - faces.boxes[:, :2], axis=1)
            best = int(areas.argmax())
            crop = aligned_grey_faces(
                image[0],
                torch.from_numpy(faces.boxes[best : best + 1]).to(image.device),
                torch.from_numpy(faces.landmarks[best : best + 1]).to(image.device),
            )
            return crop[0].cpu().numpy(), True
        return _whole_image(rgb), False

    def clip(self, path: Path, label: int, root: Path) -> FaceClip:
        frames: Iterator[np.ndarray]
        if path.is_dir():
            frames = (
                read_rgb(p) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES
            )
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            frames = (
                f.rgb for f in iter_video_frames(path, sample_fps=CLIP_SAMPLE_FPS, max_side_px=640)
            )
        else:
            frames = iter([read_rgb(path)])
        crops, found = [], []
        for rgb in frames:
            crop, face_found = self.crop(rgb)
            crops.append(crop)
            found.append(face_found)
            if len(crops) >= MAX_CLIP_FRAMES:
                break
        if not crops:
            raise MediaError(ErrorCode.NOT_MEDIA, f"{path} holds no images")
        return FaceClip(str(path.relative_to(root)), label, np.stack(crops), np.array(found))


def load_clips(root: Path, cropper: FaceCropper | None = None) -> list[FaceClip]:
    cropper = cropper or FaceCropper()
    return [cropper.clip(path, label, root) for path, label in labelled_items(root)]


def _whole_image(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    with Image.fromarray(rgb[top : top + side, left : left + side]) as square:
        grey = square.convert("L").resize((INPUT_SIZE_PX, INPUT_SIZE_PX), Image.Resampling.BILINEAR)
        return np.asarray(grey)
