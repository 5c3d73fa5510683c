"""Expression labels for the faces of scikit-image's `lfw_subset()`: a small labelled set that
exists offline, so the face model's confusion and calibration can be measured on real faces.

The 100 face crops (25x25 grey, from Labeled Faces in the Wild) carry identity labels only. Each
was looked at by one annotator, upscaled, before any model prediction was seen, and given one
of two labels where the expression was plain:

- `happy`: a clear smile (broad, usually with teeth showing);
- `neutral`: a relaxed face with the mouth closed.

Every other face (speaking or open mouth, a faint or one-sided smile, a hand over the mouth,
too dark or too blurred to judge) is left out: 53 faces are labelled, 47 are not. One annotator,
two classes and thumbnails this small make this a sanity check of the model on real faces,
not a measure of its accuracy on the seven emotions; docs/evaluation.md says so beside the
figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

# fmt: off
LFW_EXPRESSIONS: Mapping[str, tuple[int, ...]] = {
    "happy": (
        1, 11, 18, 19, 21, 22, 23, 27, 31, 37, 38, 45, 50,
        52, 53, 64, 69, 74, 79, 81, 85, 91, 93, 94, 96,
    ),
    "neutral": (
        4, 5, 6, 7, 12, 15, 17, 20, 25, 26, 34, 35, 40, 42,
        46, 55, 57, 60, 62, 66, 70, 72, 73, 76, 80, 83, 88, 98,
    ),
}
# fmt: on
UPSCALED_PX = 100  # the detector and aligner see a face about this many pixels across


def write_lfw_expressions(root: Path, size_px: int = UPSCALED_PX) -> Path:
    """Write the labelled crops as `root/<label>/lfw-<index>.png` (the `evaluate faces` layout),
    upscaled bicubically to `size_px` in RGB, as a camera frame would reach the detector."""
    from skimage import data

    crops = data.lfw_subset()
    for label, indices in LFW_EXPRESSIONS.items():
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for index in indices:
            grey = (crops[index] * 255).round().astype(np.uint8)
            image = Image.fromarray(grey).convert("RGB")
            image.resize((size_px, size_px), Image.Resampling.BICUBIC).save(
                folder / f"lfw-{index:03d}.png"
            )
    return root
