"""Training and the pipeline cut a face the same way: MTCNN box, eyes level, 64 px grey."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from analysis.face.augment import resize_faces
from analysis.face.clips import FaceCropper
from analysis.face.detect import frames_to_tensor
from analysis.face.ferplus_align import align_faces
from tests.analysis.face_factory import astronaut_head


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def test_a_still_for_training_is_cut_like_the_same_face_in_a_video_frame():
    cropper = FaceCropper()
    head = astronaut_head(220)
    # The pipeline: the face somewhere in a 640x480 frame of a consulting room.
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    frame[100 : 100 + head.shape[0], 300 : 300 + head.shape[1]] = head
    in_video, found_in_video = cropper.crop(frame)
    # Training: the same face as a FER-style still, 48 px grey around the face box.
    box = cropper.detector.detect(frames_to_tensor([head]))[0].boxes[0]
    cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, max(box[2:] - box[:2])
    grey = np.asarray(Image.fromarray(head).convert("L"))
    square = grey[int(cy - side / 2) : int(cy + side / 2), int(cx - side / 2) : int(cx + side / 2)]
    still = np.asarray(Image.fromarray(square).resize((48, 48), Image.Resampling.BILINEAR))

    (for_training,), (found_in_still,) = align_faces(still[None])
    as_fer_framed_it = resize_faces(torch.from_numpy(still[None].copy()))[0].numpy()

    assert found_in_video
    assert found_in_still
    assert for_training.shape == in_video.shape == (64, 64)
    # What is left is the still's lower resolution, not a different framing.
    assert _difference(for_training, in_video) < 14
    assert _difference(for_training, in_video) < _difference(as_fer_framed_it, in_video) / 1.5
