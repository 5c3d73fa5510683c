"""Training the temporal head, using it in the pipeline, and measuring it with `evaluate faces`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.face.clips import load_clips
from analysis.face.sequence import read_checkpoint
from analysis.face.stage import FaceOptions, run_face_stage
from analysis.face.train import TrainOptions, train
from analysis.labels import EMOTIONS
from tests.analysis import face_factory as faces
from tests.analysis import media_factory as make

pytestmark = pytest.mark.slow

TINY = TrainOptions(epochs=8, batch_size=4, val_fraction=0.3, seed=3)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return faces.write_two_class_clips(tmp_path_factory.mktemp("clips"), clips_per_class=10)


def test_training_lowers_the_loss_and_beats_chance_on_held_out_clips(
    dataset: Path, tmp_path: Path
) -> None:
    clips = load_clips(dataset)
    assert {EMOTIONS[c.label] for c in clips} == {"happy", "neutral"}

    report = train(clips, tmp_path / "head.pt", TINY, log=lambda line: None)

    first, last = report.history[1], report.history[-1]
    assert last.train_loss is not None
    assert first.train_loss is not None
    assert last.train_loss < first.train_loss
    assert report.best.val_loss < report.history[0].val_loss
    assert report.best.val_accuracy > 0.5  # two balanced classes: chance is 0.5
    assert report.n_val == 6
    card = (tmp_path / "head.md").read_text()
    assert report.sha256 in card
    assert "not validated for" in card
    metrics = (tmp_path / "head.pt.metrics.jsonl").read_text().splitlines()
    assert len(metrics) == TINY.epochs


def test_an_interrupted_run_resumes_where_it_stopped(dataset: Path, tmp_path: Path) -> None:
    clips = load_clips(dataset)
    out = tmp_path / "head.pt"
    short = replace(TINY, epochs=4)
    straight = train(clips, tmp_path / "straight.pt", short, log=lambda line: None)

    train(clips, out, replace(short, epochs=2), log=lambda line: None)
    lines: list[str] = []
    resumed = train(clips, out, short, resume=True, log=lines.append)

    assert lines[0] == "resuming after epoch 2"
    assert [m.epoch for m in resumed.history] == list(range(short.epochs + 1))
    # The same epochs, data order and augmentations: close to the uninterrupted run (threaded
    # CPU kernels do not promise bit-identical sums).
    assert resumed.history[-1].train_loss == pytest.approx(straight.history[-1].train_loss, rel=0.1)


def test_train_face_command_writes_a_checkpoint_the_pipeline_loads(
    dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "custom_head.pt"
    code = main(
        [
            "train-face",
            "--data",
            str(dataset),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--seed",
            "1",
        ]
    )
    assert code == 0
    assert read_checkpoint(out)["labels"] == list(EMOTIONS)

    clip = make.write_clip(
        tmp_path / "client.mp4",
        duration_s=2.0,
        faces=[make.MovingFace(faces.astronaut_head(110), (100, 60), (110, 60))],
    )
    result = run_face_stage(clip, FaceOptions(checkpoint=out))

    assert len(result.tracks) == 1
    head = next(m for m in result.models if m["name"] == "face-temporal-head")
    assert head["version"] == "custom:custom_head.pt"


def test_evaluate_faces_prints_accuracy_and_uar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    for k in range(3):
        happy = tmp_path / "Happiness"
        happy.mkdir(exist_ok=True)
        Image.fromarray(faces.astronaut_head(120 + 10 * k)).save(happy / f"astronaut_{k}.png")
    scenery = tmp_path / "neutral"
    scenery.mkdir()
    for k in range(2):  # LFW non-faces: no face found, the whole image is classified
        Image.fromarray(faces.lfw_rgb(faces.LFW_FACES + k)).save(scenery / f"wall_{k}.png")

    assert main(["evaluate", "faces", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)

    assert report["n"] == 5
    assert report["per_class_recall"]["happy"] == 1.0
    assert set(report) >= {"n", "accuracy", "uar", "per_class_recall", "confusion"}
    assert report["face_found_rate"] == pytest.approx(3 / 5)
    assert sum(map(sum, report["confusion"]["matrix"])) == 5
