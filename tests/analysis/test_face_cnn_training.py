"""The FER+ expression CNN: label mapping, augmentation, calibration, rest baseline, training.

The FER+ data itself is not needed: votes are written by hand and faces come from
scikit-image's LFW subset, so these run in a fresh clone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.calibration import expected_calibration_error
from analysis.cli import main as cli
from analysis.face.augment import augment_faces
from analysis.face.baseline import BASELINE_MIN_FRAMES, relative_to_rest, rest_baseline
from analysis.face.expression_cnn import expression_cnn_from_checkpoint
from analysis.face.ferplus import (
    FERPLUS_VOTE_LABELS,
    NO_MAJORITY,
    FerPlusSplit,
    majority_labels,
    vote_targets,
)
from analysis.face.ferplus_clips import CLIP_FRAMES, ferplus_clips
from analysis.face.train_cnn import CnnTrainOptions, fit_calibration, train_cnn
from analysis.labels import EMOTIONS
from analysis.weights.registry import sha256_file
from tests.analysis.face_factory import lfw

E = {label: i for i, label in enumerate(EMOTIONS)}
#                 neu hap sur sad ang dis fea con unk naf
SAD_MOSTLY = [2, 0, 0, 7, 0, 0, 0, 0, 1, 0]
CONTEMPT = [0, 0, 0, 0, 0, 2, 0, 6, 2, 0]
NOT_A_FACE = [1, 0, 0, 0, 0, 0, 0, 0, 1, 8]


def test_votes_become_targets_over_the_seven_emotions():
    targets = vote_targets(np.array([SAD_MOSTLY, CONTEMPT, NOT_A_FACE]))

    assert targets.shape == (3, 7)
    assert np.allclose(targets.sum(axis=1), 1.0)
    # An unreadable vote is spread over all seven, so it lowers confidence without a label.
    assert targets[0, E["sad"]] == pytest.approx((7 + 1 / 7) / 10)
    assert targets[0, E["neutral"]] == pytest.approx((2 + 1 / 7) / 10)
    # Contempt counts as disgust (documented choice: Moodline has no contempt label).
    assert targets[1, E["disgust"]] == pytest.approx((2 + 6 + 2 / 7) / 10)
    # Mostly "not a face": nearly uniform.
    assert targets[2].max() - targets[2].min() < 0.11


def test_the_majority_label_folds_contempt_and_skips_unreadable_faces():
    labels = majority_labels(np.array([SAD_MOSTLY, CONTEMPT, NOT_A_FACE]))

    assert labels.tolist() == [E["sad"], E["disgust"], NO_MAJORITY]


def test_augmentation_is_reproducible_from_its_seed_and_changes_the_faces():
    faces = torch.from_numpy((lfw()[:8] * 255).astype(np.uint8))

    first = augment_faces(faces, torch.Generator().manual_seed(3))
    again = augment_faces(faces, torch.Generator().manual_seed(3))
    other = augment_faces(faces, torch.Generator().manual_seed(4))

    assert first.shape == (8, 64, 64)
    assert first.dtype == torch.uint8
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_temperature_calibration_tames_an_overconfident_model_without_changing_its_calls():
    rng = np.random.default_rng(0)
    honest = rng.normal(0, 1.5, size=(6000, 7))  # a calibrated model's logits...
    probs = np.exp(honest) / np.exp(honest).sum(axis=1, keepdims=True)
    truth = np.array([rng.choice(7, p=p) for p in probs])  # ...whose labels follow them
    logits_t = torch.tensor(3.0 * honest, dtype=torch.float32)  # the same model, overconfident
    truth_t = torch.tensor(truth)

    calibration = fit_calibration(logits_t, truth_t, with_bias=False)
    before = logits_t.softmax(dim=-1).numpy()
    after = calibration.apply(logits_t).softmax(dim=-1).numpy()

    assert calibration.temperature == pytest.approx(3.0, rel=0.15)
    assert np.array_equal(before.argmax(axis=1), after.argmax(axis=1))
    correct = before.argmax(axis=1) == truth
    assert expected_calibration_error(before.max(axis=1), correct) > 0.15
    assert expected_calibration_error(after.max(axis=1), correct) < 0.03


def test_a_face_that_rests_a_little_sad_is_read_against_its_own_rest():
    reference = np.array([0.05, 0.03, 0.05, 0.1, 0.12, 0.05, 0.6])  # the CNN on neutral faces
    resting = np.array([0.05, 0.03, 0.05, 0.05, 0.32, 0.05, 0.45])  # this client at rest
    smiling = np.array([0.02, 0.01, 0.02, 0.8, 0.05, 0.05, 0.05])
    frames = np.array([resting] * 80 + [smiling] * 20)

    baseline = rest_baseline(frames)
    at_rest = relative_to_rest(resting, baseline, reference)
    smile = relative_to_rest(smiling, baseline, reference)

    assert baseline.reliable
    assert baseline.frames == 50
    assert np.allclose(baseline.probs, resting)
    assert EMOTIONS[int(resting.argmax())] == "neutral"
    assert at_rest[E["sad"]] < resting[E["sad"]]  # the habitual sadness is taken out
    assert np.allclose(at_rest, reference)
    assert EMOTIONS[int(smile.argmax())] == "happy"


def test_a_short_track_has_a_baseline_marked_unreliable():
    frames = np.full((2 * BASELINE_MIN_FRAMES - 2, 7), 1 / 7)

    assert not rest_baseline(frames).reliable


def tiny_ferplus(n: int, seed: int) -> FerPlusSplit:
    """LFW faces at FER+'s 48 px with random crowd votes (mechanics only, not accuracy)."""
    rng = np.random.default_rng(seed)
    faces = [
        np.asarray(Image.fromarray((lfw()[i % 100] * 255).astype(np.uint8)).resize((48, 48)))
        for i in range(n)
    ]
    votes = np.zeros((n, 10), dtype=np.uint8)
    for row in votes:
        for choice in rng.choice([0, 1, 2, 3, 4, 5, 6, 7], size=10, p=[0.3] + [0.1] * 7):
            row[choice] += 1
    return FerPlusSplit(np.stack(faces), vote_targets(votes), majority_labels(votes))


@pytest.mark.slow
def test_training_logs_each_epoch_resumes_and_writes_a_calibrated_checkpoint(tmp_path: Path):
    data = {"train": tiny_ferplus(96, 0), "valid": tiny_ferplus(64, 1)}
    out = tmp_path / "cnn.pt"
    options = CnnTrainOptions(arch="resnet", epochs=2, batch_size=32, threads=1)
    whole = train_cnn(data, tmp_path / "whole.pt", options, progress=False)

    train_cnn(data, out, replace(options, stop_after_epochs=1), progress=False)  # interrupted
    resumed = train_cnn(data, out, options, resume=True, progress=False)

    lines = out.with_name("cnn.pt.metrics.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    assert [line["epoch"] for line in logged] == [1, 2]
    assert {"train_loss", "valid_accuracy", "valid_uar", "valid_recall"} <= set(logged[0])
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    same = ("train_loss", "valid_accuracy", "valid_uar", "valid_recall")
    for a, b in zip(resumed.history, whole.history, strict=True):  # seeded: resumed exactly
        assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert resumed.sha256 == whole.sha256
    model = expression_cnn_from_checkpoint(out)
    assert model.calibration.temperature > 0
    assert model.rest_reference is not None
    assert sum(model.rest_reference) == pytest.approx(1.0, abs=1e-3)
    features, logits = model(torch.zeros(2, 1, 64, 64))
    assert features.shape == (2, 256)
    assert logits.shape == (2, 7)


def test_clips_from_stills_show_the_apex_for_most_of_the_window():
    split = tiny_ferplus(60, 2)

    clips = ferplus_clips(split, per_label=2, seed=0, prefix="t")

    present = {int(label) for label in split.majority if label != NO_MAJORITY}
    assert {c.label for c in clips} == present
    assert all(c.crops.shape == (CLIP_FRAMES, 64, 64) for c in clips)
    again = ferplus_clips(split, per_label=2, seed=0, prefix="t")
    assert all(np.array_equal(a.crops, b.crops) for a, b in zip(clips, again, strict=True))


def write_tiny_ferplus(path: Path) -> Path:
    """An .npz in FER+'s own layout (see shared/data/README.md), from LFW faces."""
    rng = np.random.default_rng(5)
    n = 120
    faces = tiny_ferplus(n, 5).images
    votes = np.zeros((n, 10), dtype=np.uint8)
    for i, row in enumerate(votes):
        row[i % 7 if i % 7 != 5 else 7] += 6  # every emotion, disgust as contempt
        for choice in rng.choice(10, size=4):
            row[choice] += 1
    split = np.array(["train"] * 80 + ["valid"] * 40)
    np.savez_compressed(
        path,
        images=faces,
        votes=votes,
        split=split,
        names=np.array([f"fer{i:07d}.png" for i in range(n)]),
        vote_labels=np.array(FERPLUS_VOTE_LABELS),
    )
    return path


@pytest.mark.slow
def test_the_commands_train_the_cnn_and_the_head_on_ferplus_and_score_valid(tmp_path, capsys):
    data = write_tiny_ferplus(tmp_path / "ferplus.npz")
    cnn = tmp_path / "cnn.pt"

    assert cli(["train-face-cnn", "--data", str(data), "--out", str(cnn), "--epochs", "1",
                "--batch-size", "32", "--no-progress"]) == 0  # fmt: skip
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert trained["sha256"] == sha256_file(cnn)
    assert 0.0 <= trained["valid_ece"] <= 1.0

    head = tmp_path / "head.pt"
    assert cli(["train-face", "--ferplus", str(data), "--out", str(head), "--epochs", "1",
                "--clips-per-label", "3"]) == 0  # fmt: skip
    card = head.with_suffix(".md").read_text()
    assert "held-out clips from FER+ valid" in card
    assert "untrained (CNN average)" in card
    capsys.readouterr()

    assert cli(["evaluate", "faces", "--ferplus", str(data),
                "--cnn", "fer2013-mini-xception"]) == 0  # fmt: skip
    scored = json.loads(capsys.readouterr().out)["fer2013-mini-xception"]
    assert scored["n"] == 40  # every valid face has an emotion as its majority answer
    assert set(scored["per_class_recall"]) <= set(EMOTIONS)
    assert "ece" in scored["calibration"]
