"""Where the models run: the MOODLINE_DEVICE setting, and every model on an accelerator.

No GPU exists here, so the accelerator is the stand-in of tests/analysis/stand_in_device.py:
the models load onto it exactly as they would load onto CUDA, and any input left on the CPU,
any `.numpy()` before `.cpu()`, fails as it would on a GPU. What the stand-in cannot show is
CUDA itself (kernels, memory, float16 in CTranslate2); see docs/evaluation.md §5.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import analysis.device
from analysis.device import DEVICE_ENV, parse_device, torch_device
from analysis.errors import ErrorCode, ModelError
from analysis.face import loading as face_weights
from analysis.face import recipe_v1
from analysis.face.clips import FaceClip, FaceCropper
from analysis.face.detect import FaceDetector, FrameFaces, frames_to_tensor
from analysis.face.evaluate import clip_probabilities
from analysis.face.expression import MiniXception
from analysis.face.sequence import load_head_model, load_sequence_model
from analysis.labels import EMOTIONS
from analysis.onnx_engine import ENGINE_VARIABLE, TORCH
from analysis.pipeline import PipelineOptions, analyse_file
from analysis.weights import speech as speech_weights
from benchmarks import _pipeline_child, face_stage
from tests.analysis import face_factory as faces
from tests.analysis import media_factory as make
from tests.analysis.stand_in_device import STAND_IN, DeviceMismatch, StandIn, stand_in_accelerator

ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")

# Per-process model caches: each holds a model on the device it was first loaded onto.
MODEL_LOADERS = (
    face_weights.load_mtcnn,
    face_weights._load_expression_cnn,
    load_sequence_model,
    speech_weights.load_whisper,
    speech_weights.load_sentence_encoder,
)


@pytest.fixture
def fresh_setting() -> Iterator[None]:
    """`torch_device()` reads MOODLINE_DEVICE once per process; these tests read it again."""
    torch_device.cache_clear()
    yield
    torch_device.cache_clear()


# --- the setting ------------------------------------------------------------------------------


@NO_CUDA
def test_auto_runs_on_the_cpu_of_a_machine_without_cuda(monkeypatch, fresh_setting) -> None:
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert torch_device() == torch.device("cpu")
    assert parse_device("auto") == torch.device("cpu")
    assert parse_device(" AUTO ") == torch.device("cpu")


def test_cpu_is_always_available(monkeypatch, fresh_setting) -> None:
    monkeypatch.setenv(DEVICE_ENV, "CPU")
    assert torch_device() == torch.device("cpu")


@NO_CUDA
@pytest.mark.parametrize("setting", ["cuda", "cuda:0", "cuda:1"])
def test_asking_for_a_gpu_without_one_is_a_clear_error(setting: str) -> None:
    with pytest.raises(ModelError) as refused:
        parse_device(setting)

    assert refused.value.code == ErrorCode.MODEL_UNAVAILABLE
    message = refused.value.message
    assert f"MOODLINE_DEVICE={setting} asks for a GPU" in message
    assert "no CUDA support" in message or "no CUDA device is visible" in message
    assert "set it to cpu or auto" in message


@pytest.mark.parametrize("setting", ["gpu", "cuda:x", "cuda0", "mps", "meta", "cpu:0"])
def test_an_unknown_device_is_refused_with_the_choices_named(setting: str) -> None:
    with pytest.raises(ModelError) as refused:
        parse_device(setting)

    assert refused.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert f"MOODLINE_DEVICE={setting!r} is not a device" in refused.value.message
    assert "auto, cpu, cuda or cuda:N" in refused.value.message


@NO_CUDA
@pytest.mark.slow
def test_the_command_line_says_why_it_cannot_use_the_gpu_asked_for(
    session_clip: Path, tmp_path: Path
) -> None:
    output = tmp_path / "timeline.json"
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "analyze", str(session_clip), "-o", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, DEVICE_ENV: "cuda"},
    )

    assert run.returncode == 3, run.stderr
    assert "MOODLINE_DEVICE=cuda asks for a GPU" in run.stderr
    assert "(model_unavailable)" in run.stderr
    assert not output.exists()


# --- the stand-in accelerator itself ----------------------------------------------------------


def test_the_stand_in_refuses_what_a_gpu_refuses() -> None:
    """The check can fail: each mistake the device tests look for is caught here."""
    with stand_in_accelerator(), torch.inference_mode():
        net = MiniXception().to(STAND_IN).eval()
        crops = torch.zeros(2, 1, 64, 64)
        with pytest.raises(DeviceMismatch, match="same device"):
            net(crops)  # input left on the CPU
        features, _ = net(crops.to(STAND_IN))
        with pytest.raises(TypeError, match=r"Use Tensor\.cpu"):
            features.numpy()  # not copied back first
        assert features.cpu().numpy().shape == (2, 128)
        with pytest.raises(DeviceMismatch, match="indices should be either on cpu"):
            torch.arange(2)[features[:, 0] > -1e9]  # a CPU tensor indexed by a GPU mask
        with pytest.raises(DeviceMismatch, match="same device"):
            torch.cat([features, torch.zeros(1, 128)])


# --- every model on the accelerator, against the same models on the CPU -----------------------


@contextmanager
def models_on(device: torch.device) -> Iterator[None]:
    """MOODLINE_DEVICE resolves to `device` inside, and every model loads onto it afresh."""
    resolve = analysis.device.torch_device
    with pytest.MonkeyPatch.context() as patch:
        # Torch on both sides: an accelerator always runs the face networks through torch, so
        # the CPU reference does too, and the two compare exactly.
        patch.setenv(ENGINE_VARIABLE, TORCH)
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in ("analysis", "benchmarks") and (
                getattr(module, "torch_device", None) is resolve
            ):
                patch.setattr(module, "torch_device", lambda: device)
        for loader in MODEL_LOADERS:
            loader.cache_clear()
        try:
            yield
        finally:
            for loader in MODEL_LOADERS:  # the next user loads them again where it runs
                loader.cache_clear()


@pytest.fixture
def accelerator() -> Iterator[StandIn]:
    with models_on(STAND_IN), stand_in_accelerator() as stand_in:
        yield stand_in


def _on_accelerator(*models: torch.nn.Module) -> bool:
    return all(p.device == STAND_IN for m in models for p in m.parameters())


def _without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "created_at"}


@pytest.fixture(scope="module")
def cpu_timeline(session_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with models_on(CPU):
        return analyse_file(
            session_clip,
            options=PipelineOptions(transcript_engine="openai-whisper"),
            workdir=tmp_path_factory.mktemp("cpu"),
        )


@pytest.fixture(scope="module")
def empty_room() -> np.ndarray:
    return np.full((240, 320, 3), 128, np.uint8)


@pytest.fixture(scope="module")
def cpu_faces() -> FrameFaces:
    with models_on(CPU):
        return FaceDetector().detect(frames_to_tensor([faces.astronaut()]))[0]


@pytest.mark.slow
def test_face_detection_on_the_accelerator_finds_what_the_cpu_finds(
    accelerator: StandIn, cpu_faces: FrameFaces, empty_room: np.ndarray
) -> None:
    detector = FaceDetector()
    astronaut = detector.detect(frames_to_tensor([faces.astronaut()]))[0]
    nobody = detector.detect(frames_to_tensor([empty_room]))[0]  # no proposal at all
    tracked = detector.refine(frames_to_tensor([faces.astronaut()]), [astronaut.boxes])[0]

    networks = face_weights.load_mtcnn()
    assert (detector.pnet, detector.rnet, detector.onet) == networks  # torch, on a GPU
    assert _on_accelerator(*networks)
    assert len(astronaut) == 1
    assert len(nobody) == 0
    np.testing.assert_array_equal(astronaut.boxes, cpu_faces.boxes)
    np.testing.assert_array_equal(astronaut.landmarks, cpu_faces.landmarks)
    assert tracked.scores[0] > 0.99


@pytest.mark.slow
def test_the_whole_pipeline_on_the_accelerator_gives_the_cpu_timeline(
    accelerator: StandIn,
    cpu_timeline: dict[str, Any],
    session_clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The stand-in lives in this thread's dispatch mode, so the stages run in this thread.
    monkeypatch.setenv("MOODLINE_STAGES_SIDE_BY_SIDE", "0")
    document = analyse_file(
        session_clip,
        options=PipelineOptions(transcript_engine="openai-whisper"),
        workdir=tmp_path,
    )

    assert all(loader.cache_info().currsize for loader in MODEL_LOADERS)  # each one ran
    assert _on_accelerator(
        *face_weights.load_mtcnn(),
        load_head_model(None),
        speech_weights.load_whisper(),
        speech_weights.load_sentence_encoder(),
    )
    assert _without_time(document) == _without_time(cpu_timeline)
    assert cpu_timeline["face_tracks"]
    assert cpu_timeline["transcript"]
    # openai-whisper's own DTW turns its small alignment matrix to float64 on its way to the CPU
    assert {s for s in accelerator.double_sites if "whisper/timing.py" not in s} == set()


@pytest.fixture(scope="module")
def astronaut_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    head = faces.astronaut_head(110)
    return [faces.shifted(head, rng.integers(-4, 5, 2)) for _ in range(4)]


def _face_clip(frames: list[np.ndarray]) -> FaceClip:
    cropper = FaceCropper()
    crops, found = zip(*(cropper.crop(rgb) for rgb in frames), strict=True)
    return FaceClip("astronaut", EMOTIONS.index("happy"), np.stack(crops), np.array(found))


@pytest.fixture(scope="module")
def cpu_clip_probabilities(astronaut_frames: list[np.ndarray]) -> np.ndarray:
    with models_on(CPU):
        return clip_probabilities(load_head_model(None), _face_clip(astronaut_frames))


@pytest.mark.slow
def test_evaluating_faces_on_the_accelerator_reads_what_the_cpu_reads(
    accelerator: StandIn, astronaut_frames: list[np.ndarray], cpu_clip_probabilities: np.ndarray
) -> None:
    clip = _face_clip(astronaut_frames)
    model = load_head_model(None)
    over_the_clip = clip_probabilities(model, clip)  # the temporal head
    one_frame = clip_probabilities(model, replace(clip, crops=clip.crops[:1]))  # the CNN alone

    assert _on_accelerator(model)
    assert clip.face_found.all()
    assert EMOTIONS[int(over_the_clip.argmax())] == EMOTIONS[int(one_frame.argmax())] == "happy"
    np.testing.assert_allclose(over_the_clip, cpu_clip_probabilities, atol=1e-6)


@pytest.mark.slow
def test_the_head_recipe_labels_faces_without_moving_the_shared_cnn(accelerator: StandIn) -> None:
    label = recipe_v1._cnn_label(faces.astronaut_head(110))

    assert label == "happy"
    assert _on_accelerator(face_weights.load_expression_cnn())  # still where the stage needs it


@pytest.mark.slow
def test_the_benchmark_baselines_run_on_the_accelerator(
    accelerator: StandIn, session_clip: Path, tmp_path: Path
) -> None:
    face_clip = make.write_clip(
        tmp_path / "face.mp4",
        duration_s=0.4,  # the face benchmark's naive loop reads every frame
        faces=[make.MovingFace(faces.astronaut_head(110), (100, 60), (110, 65))],
    )

    naive = _pipeline_child._naive_face(session_clip, 1.0)
    plain = _pipeline_child._whisper_plain(session_clip)
    naive_faces_seen = face_stage.naive_loop(face_clip)

    assert naive["frames"] >= 1
    assert naive["faces"] >= 1
    assert plain["words"] >= 1
    assert plain["whisper_device"] == str(STAND_IN)
    assert naive_faces_seen >= 1
