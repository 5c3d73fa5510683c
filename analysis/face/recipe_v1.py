"""Train a distilled temporal head from real face photographs (no labelled face video exists here).

    python -m analysis.face.recipe_v1 --out distilled_head.pt

No labelled face video exists here, so the head is distilled from the frozen per-frame CNN:
clips are built from real face photographs shipped with scikit-image (the astronaut and the
100 LFW faces of `lfw_subset`, a dev dependency), each a short sequence of the same face with
small shifts and lighting changes. The target of a clip is the CNN's mean probability over
its clean frames; the head sees augmented frames (occlusion, crops, brightness, dropped
frames) and learns to recover that target, i.e. to lean on the frames that are still
readable. It learns nothing about emotion the CNN does not already know.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from analysis.face.clips import load_clips
from analysis.face.expression import to_model_input
from analysis.face.loading import load_expression_cnn
from analysis.face.train import TrainOptions, train
from analysis.labels import EMOTIONS

FRAMES_PER_CLIP = 8
FACE_SIZE_PX = 112
SEED = 0
OPTIONS = TrainOptions(
    epochs=12, seed=SEED, lr=1e-3, batch_size=8, targets="distill", val_fraction=0.2
)
DATA_DESCRIPTION = (
    "101 face photographs from scikit-image (data.astronaut, the 100 faces of data.lfw_subset), "
    f"each as a {FRAMES_PER_CLIP}-frame clip with small shifts and lighting changes; targets: "
    "the frozen FER2013 mini-Xception's mean probabilities over each clip's clean frames"
)


def face_photographs() -> list[np.ndarray]:
    from skimage import data  # dev dependency: the recipe runs in the dev environment

    faces = [data.astronaut()[10:230, 140:340]]
    for grey in data.lfw_subset()[:100]:
        faces.append(np.repeat((grey * 255).round().astype(np.uint8)[..., None], 3, axis=-1))
    return faces


def _frames(face: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    size = (FACE_SIZE_PX, round(FACE_SIZE_PX * face.shape[0] / face.shape[1]))
    with Image.fromarray(face) as image:
        base = np.asarray(image.resize(size, Image.Resampling.BICUBIC)).astype(np.float32)
    frames = []
    for _ in range(FRAMES_PER_CLIP):
        dx, dy = (int(v) for v in rng.integers(-5, 6, 2))
        moved = np.roll(base, (dy, dx), axis=(0, 1)) * rng.uniform(0.8, 1.15)
        frames.append(moved.clip(0, 255).astype(np.uint8))
    return frames


@torch.no_grad()
def _cnn_label(face: np.ndarray) -> str:
    with Image.fromarray(face) as image:
        grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BILINEAR))
    cnn = load_expression_cnn()  # shared by the process: moving it would move it for everyone
    crop = to_model_input(torch.from_numpy(grey[None].copy()))
    _, logits = cnn(crop.to(next(cnn.parameters()).device))
    return EMOTIONS[int(logits.argmax())]


def write_dataset(root: Path) -> Path:
    """DIR/<label>/<clip>/*.png; the folder label (the CNN's call) only stratifies the split."""
    rng = np.random.default_rng(SEED)
    for index, face in enumerate(face_photographs()):
        folder = root / _cnn_label(face) / f"face_{index:03d}"
        folder.mkdir(parents=True)
        for k, frame in enumerate(_frames(face, rng)):
            Image.fromarray(frame).save(folder / f"{k:02d}.png")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        clips = load_clips(write_dataset(Path(tmp)))
    report = train(clips, args.out, OPTIONS, data_description=DATA_DESCRIPTION)
    for suffix in (".state.pt",):  # training state is not shipped
        args.out.with_name(args.out.name + suffix).unlink(missing_ok=True)
    print(f"{report.checkpoint} sha256 {report.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
