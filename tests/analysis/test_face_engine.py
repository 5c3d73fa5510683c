"""The face networks through ONNX Runtime give torch's answers: the same top emotion for every
face, probabilities within float rounding, the same faces found in the same places."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.errors import ModelError
from analysis.face.engine_agreement import cnn_agreement, detector_agreement
from analysis.face.stage import run_face_stage
from analysis.onnx_engine import ENGINE_VARIABLE, face_engine
from tests.analysis import face_factory as faces
from tests.analysis.media_factory import MovingFace, write_clip


def test_the_expression_cnn_reads_the_same_emotion_from_every_lfw_face_either_way() -> None:
    grey = (faces.lfw()[: faces.LFW_FACES] * 255).round().astype(np.uint8)

    agreement = cnn_agreement(grey)

    assert agreement.faces == faces.LFW_FACES
    assert agreement.top1_agreement == 1.0
    assert agreement.max_probability_difference < 1e-4


def test_mtcnn_finds_the_same_faces_in_the_same_places_either_way() -> None:
    lfw_faces = detector_agreement([faces.lfw_rgb(i, size_px=160) for i in range(0, 100, 5)])
    astronaut = detector_agreement([faces.astronaut()])

    for found in (lfw_faces, astronaut):
        assert found.same_face_count == 1.0
        assert found.max_box_difference_px < 0.05


def test_the_face_stage_writes_the_same_track_with_either_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = write_clip(
        tmp_path / "face.mp4",
        duration_s=2.0,
        faces=[MovingFace(faces.astronaut_head(), (100, 60), (130, 70))],
    )
    outputs = {}
    for engine in ("torch", "onnxruntime"):
        monkeypatch.setenv(ENGINE_VARIABLE, engine)
        outputs[engine] = run_face_stage(clip).to_json()

    torch_track, ort_track = (outputs[e]["tracks"][0] for e in ("torch", "onnxruntime"))
    assert torch_track["times_s"] == ort_track["times_s"]
    assert np.abs(np.subtract(torch_track["boxes"], ort_track["boxes"])).max() <= 0.1
    assert np.abs(np.subtract(torch_track["frame_probs"], ort_track["frame_probs"])).max() <= 2e-4


def test_an_unknown_face_engine_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENGINE_VARIABLE, "tensorrt")
    with pytest.raises(ModelError, match="unknown face engine 'tensorrt'"):
        face_engine()
