"""Whether ONNX Runtime gives the face networks' answers: the same faces read both ways.

The expression CNN reads each face once through torch (float32, the reference) and once through
ONNX Runtime; MTCNN finds the faces of the same images both ways. Reported: the share of faces
whose top emotion agrees (target >= 99%), the largest and the mean difference of any emotion's
probability, and for detection the share of images with the same number of faces and the
largest box difference in pixels.

    python -m analysis evaluate face-engine            # FER+ valid (shared/data/ferplus)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from analysis.face.augment import resize_faces
from analysis.face.detect import FaceDetector, FrameFaces, frames_to_tensor
from analysis.face.expression import to_model_input
from analysis.face.ferplus_align import ferplus_canvas
from analysis.face.loading import expression_network, load_expression_cnn
from analysis.onnx_engine import ONNX_RUNTIME, TORCH, Network

BATCH = 256
TARGET_TOP1_AGREEMENT = 0.99


@dataclass(frozen=True)
class CnnAgreement:
    faces: int
    top1_agreement: float  # share of faces whose most probable emotion is the same
    max_probability_difference: float  # over every face and emotion
    mean_probability_difference: float


@dataclass(frozen=True)
class DetectorAgreement:
    images: int
    same_face_count: float  # share of images where both find as many faces
    max_box_difference_px: float  # over the faces of those images, in order of score


@torch.inference_mode()
def _probabilities(network: Network, faces: torch.Tensor) -> np.ndarray:
    rows = []
    for start in range(0, len(faces), BATCH):
        _, logits = network(to_model_input(faces[start : start + BATCH]))
        rows.append(torch.softmax(logits, dim=-1).numpy())
    return np.concatenate(rows)


def cnn_agreement(grey_faces: np.ndarray) -> CnnAgreement:
    """(N, H, W) uint8 grey faces, read by the selected expression CNN through both engines."""
    faces = resize_faces(torch.from_numpy(grey_faces))
    cnn = load_expression_cnn()
    reference = _probabilities(expression_network(cnn, TORCH), faces)
    candidate = _probabilities(expression_network(cnn, ONNX_RUNTIME), faces)
    difference = np.abs(reference - candidate)
    return CnnAgreement(
        faces=len(faces),
        top1_agreement=float(np.mean(reference.argmax(1) == candidate.argmax(1))),
        max_probability_difference=float(difference.max()),
        mean_probability_difference=float(difference.mean()),
    )


def _detect_all(detector: FaceDetector, images: list[np.ndarray]) -> list[FrameFaces]:
    found: list[FrameFaces] = []
    for start in range(0, len(images), 16):
        found += detector.detect(frames_to_tensor(images[start : start + 16]))
    return found


def detector_agreement(rgb_images: list[np.ndarray]) -> DetectorAgreement:
    """Same-size RGB images, searched by MTCNN through both engines."""
    reference = _detect_all(FaceDetector(engine=TORCH), rgb_images)
    candidate = _detect_all(FaceDetector(engine=ONNX_RUNTIME), rgb_images)
    same = [len(a) == len(b) for a, b in zip(reference, candidate, strict=True)]
    differences = [
        float(np.abs(a.boxes - b.boxes).max())
        for a, b, equal in zip(reference, candidate, same, strict=True)
        if equal and len(a)
    ]
    return DetectorAgreement(
        images=len(rgb_images),
        same_face_count=float(np.mean(same)),
        max_box_difference_px=max(differences, default=0.0),
    )


def ferplus_engine_agreement(grey_faces: np.ndarray) -> dict[str, Any]:
    """Both checks on FER+ faces: the CNN on the faces, MTCNN on their detection canvases."""
    cnn = cnn_agreement(grey_faces)
    detector = detector_agreement([ferplus_canvas(face) for face in grey_faces])
    return {
        "expression_cnn": asdict(cnn),
        "detector": asdict(detector),
        "target_top1_agreement": TARGET_TOP1_AGREEMENT,
        "met": cnn.top1_agreement >= TARGET_TOP1_AGREEMENT,
    }
