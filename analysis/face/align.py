"""Face crops for the expression CNN: upright (eyes level), framed like FER2013, 64x64 grey.

FER2013's faces fill their frame from brow to chin, roughly what MTCNN's box covers; the box
is enlarged slightly and rotated so the eyes are level, which removes head roll the CNN
never saw in training.
"""

from __future__ import annotations

import torch

from analysis.face.expression import INPUT_SIZE_PX
from analysis.face.geometry import sample_patches

# Side of the crop relative to the MTCNN box side; chosen on skimage's astronaut and LFW faces
# so the crop spans forehead to chin like FER2013's images.
CROP_TO_BOX_RATIO = 1.1
# ITU-R BT.601 luma weights, as OpenCV's RGB->grey (which produced FER2013-style inputs).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# Region of the 64x64 aligned crop that holds the mouth (rows, cols), for mouth motion.
MOUTH_ROWS = slice(40, 60)
MOUTH_COLS = slice(16, 48)


def eye_angles(landmarks: torch.Tensor) -> torch.Tensor:
    """(k, 5, 2) landmarks -> (k,) roll angle in radians of the line from left to right eye."""
    delta = landmarks[:, 1] - landmarks[:, 0]
    return torch.atan2(delta[:, 1], delta[:, 0])


def aligned_grey_faces(
    image: torch.Tensor, boxes: torch.Tensor, landmarks: torch.Tensor
) -> torch.Tensor:
    """image (3, H, W) float RGB 0..255, boxes (k, 4), landmarks (k, 5, 2) -> (k, 64, 64) uint8."""
    grey = torch.tensordot(image.new_tensor(LUMA_WEIGHTS), image, dims=1)[None]  # (1, H, W)
    centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
    sides = (boxes[:, 2:4] - boxes[:, :2]).max(dim=1).values * CROP_TO_BOX_RATIO
    patches = sample_patches(grey, centres, sides, eye_angles(landmarks), INPUT_SIZE_PX)
    return patches[:, 0].round().clamp(0, 255).to(torch.uint8)


def mouth_motion(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """Mean absolute grey difference (0..1) of the mouth region of two aligned crops, per face."""
    before = previous[:, MOUTH_ROWS, MOUTH_COLS].float()
    after = current[:, MOUTH_ROWS, MOUTH_COLS].float()
    return (after - before).abs().mean(dim=(1, 2)) / 255.0
