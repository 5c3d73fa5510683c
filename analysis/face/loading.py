"""Loading the face models: each loader verifies the checksum once, builds the module once per
process (`functools.cache`) and returns it in eval mode on the configured device; callers run
it under `torch.inference_mode()`. The specs themselves are in analysis/weights/face.py.

Which expression CNN runs is a setting, `MOODLINE_FACE_CNN`: `ferplus-expression-cnn` (the
default, trained here on FER+) or `fer2013-mini-xception` (the model `fer` ships, kept for
comparison). Each comes with the temporal head trained over its own features.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import torch
from torch import nn

from analysis.device import torch_device
from analysis.errors import ErrorCode, ModelError
from analysis.face.expression import INPUT_SIZE_PX, mini_xception_from_hdf5
from analysis.face.expression_cnn import Calibration, ExpressionCnn, expression_cnn_from_checkpoint
from analysis.face.mtcnn_nets import ONet, PNet, RNet
from analysis.labels import EMOTIONS
from analysis.onnx_engine import TORCH, Export, Network, exported, face_engine, ort_network
from analysis.weights.face import (
    FACE_CNN_HEADS,
    FACE_EXPRESSION_CNN,
    FER_MINI_XCEPTION,
    MTCNN_ONET,
    MTCNN_PNET,
    MTCNN_RNET,
    MTCNN_SPECS,
)
from analysis.weights.registry import (
    ModelSpec,
    get_spec,
    package_dir,
    sha256_file,
    verified_path,
)

FACE_CNN_ENV = "MOODLINE_FACE_CNN"
DEFAULT_FACE_CNN = FACE_EXPRESSION_CNN.name


def weights_path(spec: ModelSpec) -> Path:
    """The verified weights file of a spec whose weights ship in a package."""
    return verified_path(package_dir(spec.source_package) / spec.source_file, spec.sha256)


def _load_mtcnn_net(net: nn.Module, spec: ModelSpec) -> nn.Module:
    state = torch.load(weights_path(spec), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.to(torch_device()).eval()


def mtcnn_networks(engine: str | None = None) -> tuple[Network, Network, Network]:
    """P-Net, R-Net and O-Net as the face engine (`engine`, else the setting) runs them."""
    pnet, rnet, onet = load_mtcnn()
    if face_engine(engine) == TORCH:
        return pnet, rnet, onet
    p, r, o = (
        ort_network(net, export)
        for net, export in zip((pnet, rnet, onet), _mtcnn_exports(), strict=True)
    )
    return p, r, o


def expression_network(cnn: ExpressionCnn, engine: str | None = None) -> Network:
    """The selected expression CNN as the face engine (`engine`, else the setting) runs it:
    faces in, (features, logits) out."""
    if face_engine(engine) == TORCH:
        return cnn
    return ort_network(cnn, _cnn_export())


def face_network_exports() -> Iterator[tuple[str, Path, bool]]:
    """Export every face network ONNX Runtime runs, unless cached, one at a time: each one's
    name, file and whether it was exported now (`python -m analysis prepare-models`)."""
    pairs: list[tuple[nn.Module, Export]] = [
        *zip(load_mtcnn(), _mtcnn_exports(), strict=True),
        (load_expression_cnn(), _cnn_export()),
    ]
    for module, export in pairs:
        fresh = not export.path.is_file()
        yield export.name, exported(module, export), fresh


def _mtcnn_exports() -> tuple[Export, Export, Export]:
    # P-Net reads whole images of any size; R-Net and O-Net crops of a fixed size.
    return (
        Export(
            MTCNN_PNET.name, MTCNN_PNET.sha256, torch.zeros(1, 3, 40, 56), ("p", "box"), (0, 2, 3)
        ),
        Export(MTCNN_RNET.name, MTCNN_RNET.sha256, torch.zeros(1, 3, 24, 24), ("p", "box")),
        Export(
            MTCNN_ONET.name, MTCNN_ONET.sha256, torch.zeros(1, 3, 48, 48), ("p", "box", "points")
        ),
    )


def _cnn_export() -> Export:
    spec = expression_cnn_spec()
    example = torch.zeros(1, 1, INPUT_SIZE_PX, INPUT_SIZE_PX)
    return Export(spec.name, spec.sha256, example, ("features", "logits"))


@cache
def load_mtcnn() -> tuple[PNet, RNet, ONet]:
    pnet = _load_mtcnn_net(PNet(), get_spec(MTCNN_PNET.name))
    rnet = _load_mtcnn_net(RNet(), get_spec(MTCNN_RNET.name))
    onet = _load_mtcnn_net(ONet(), get_spec(MTCNN_ONET.name))
    assert isinstance(pnet, PNet)
    assert isinstance(rnet, RNet)
    assert isinstance(onet, ONet)
    return pnet, rnet, onet


# --- the expression CNN ------------------------------------------------------------------------


def face_cnn_name(name: str | None = None) -> str:
    """`name`, else the `MOODLINE_FACE_CNN` setting, else the default; refused when unknown."""
    chosen = name or os.environ.get(FACE_CNN_ENV) or DEFAULT_FACE_CNN
    if chosen not in FACE_CNN_HEADS:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"unknown face CNN {chosen!r} ({FACE_CNN_ENV}); choose from {sorted(FACE_CNN_HEADS)}",
        )
    return chosen


def expression_cnn_spec(name: str | None = None) -> ModelSpec:
    return get_spec(face_cnn_name(name))


def load_expression_cnn(name: str | None = None) -> ExpressionCnn:
    """The selected expression CNN with its calibration (see `face_cnn_name`)."""
    return _load_expression_cnn(face_cnn_name(name))


@cache
def _load_expression_cnn(name: str) -> ExpressionCnn:
    spec = get_spec(name)
    if name == FER_MINI_XCEPTION.name:
        network = mini_xception_from_hdf5(weights_path(spec))
        model = ExpressionCnn(network, Calibration.identity(), "mini-xception")
    else:
        model = expression_cnn_from_checkpoint(weights_path(spec))
    return model.to(torch_device()).eval()


# --- the temporal head -------------------------------------------------------------------------


def default_head_spec(cnn: str | None = None) -> ModelSpec:
    """The shipped temporal head trained over the selected CNN's features."""
    return FACE_CNN_HEADS[face_cnn_name(cnn)]


def default_head_path(cnn: str | None = None) -> Path:
    spec = default_head_spec(cnn)
    return package_dir(spec.source_package) / spec.source_file


def head_spec(checkpoint: Path | None) -> ModelSpec:
    """The spec of the shipped head, or one describing a custom checkpoint by its checksum."""
    if checkpoint is None or Path(checkpoint).resolve() == default_head_path().resolve():
        return default_head_spec()
    return ModelSpec(
        name="face-temporal-head",
        version=f"custom:{Path(checkpoint).name}",
        task=default_head_spec().task,
        source_package="file",
        source_file=str(checkpoint),
        sha256=sha256_file(Path(checkpoint)),
        licence="as declared by its model card",
        labels=EMOTIONS,
    )


def face_model_specs(checkpoint: Path | None) -> list[ModelSpec]:
    """Every model behind the face stage's output: detector, expression CNN, temporal head."""
    return [*MTCNN_SPECS, expression_cnn_spec(), head_spec(checkpoint)]


def face_model_digests(checkpoint: Path | None) -> list[str]:
    """The sha256 of every weight file behind the face stage's output, for its fingerprint."""
    return [spec.sha256 for spec in face_model_specs(checkpoint)]
