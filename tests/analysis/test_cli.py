"""`python -m analysis` as a clinician's IT team would run it: offline, from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.commands import score_windows
from analysis.timeline import validate_timeline
from tests.analysis.test_pipeline import talking_clip
from tests.analysis.test_transcribe import JFK, JFK_REFERENCE, NEEDS_JFK

ROOT = Path(__file__).resolve().parents[2]


def moodline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_analyze_writes_a_valid_timeline_and_shows_progress(tmp_path):
    clip = talking_clip(tmp_path / "session.mp4")
    output = tmp_path / "out" / "timeline.json"

    run = moodline("analyze", str(clip), "-o", str(output), "--no-voice")

    assert run.returncode == 0, run.stderr
    document = json.loads(output.read_text())
    validate_timeline(document)
    assert {
        "modality": "voice",
        "reason": "no_consent",
        "start_s": 0.0,
        "end_s": document["duration_s"],
    } in document["gaps"]
    assert "[transcript]" in run.stderr
    assert "100%" in run.stderr
    assert json.loads(run.stdout)["windows"] == len(document["windows"])


def test_analyze_refuses_a_file_that_is_not_a_recording_with_a_clear_message(tmp_path):
    fake = tmp_path / "session.mp4"
    fake.write_text("not a video")

    run = moodline("analyze", str(fake), "-o", str(tmp_path / "t.json"), "--quiet")

    assert run.returncode == 2
    assert "error:" in run.stderr
    assert "not_media" in run.stderr
    assert not (tmp_path / "t.json").exists()


def test_analyze_refuses_a_missing_file(tmp_path):
    run = moodline("analyze", str(tmp_path / "nowhere.mp4"), "-o", str(tmp_path / "t.json"))

    assert run.returncode == 2
    assert "no such file" in run.stderr


@pytest.mark.slow
@NEEDS_JFK
@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_evaluate_transcript_prints_the_word_error_rate(model):
    run = moodline(
        "evaluate", "transcript", str(JFK), "--reference", JFK_REFERENCE, "--model", model
    )

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["wer"] <= 0.10
    assert result["model"] == model
    assert "ask not what your country" in result["hypothesis"].lower()


@NEEDS_JFK
def test_an_unknown_transcript_model_setting_fails_with_the_choices():
    run = moodline(
        "evaluate",
        "transcript",
        str(JFK),
        "--reference",
        JFK_REFERENCE,
        env={"MOODLINE_TRANSCRIPT_MODEL": "large-v3"},
    )

    assert run.returncode == 3
    assert "unknown transcript model 'large-v3'" in run.stderr
    assert "choose one of tiny.en, base" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_evaluate_video_scores_the_fused_emotion_against_labelled_segments(tmp_path):
    clip = talking_clip(tmp_path / "session.mp4", with_face=False)
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "segments": [
                    {"start_s": 0, "end_s": 4, "label": "sad"},
                    {"start_s": 4, "end_s": 9, "label": "happy"},
                ]
            }
        )
    )

    run = moodline("evaluate", "video", str(clip), "--labels", str(labels))

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["labelled_windows"] >= 4
    assert 0.0 <= result["accuracy"] <= 1.0
    assert 0.0 <= result["uar"] <= 1.0
    assert set(result["recall"]) == {"sad", "happy"}


def test_window_scoring_counts_a_window_without_any_emotion_as_wrong():
    windows: list[dict[str, object]] = [
        {"start_s": 0.0, "end_s": 2.0, "dominant": "sad"},
        {"start_s": 2.0, "end_s": 4.0, "dominant": None},
        {"start_s": 4.0, "end_s": 6.0, "dominant": "happy"},
        {"start_s": 6.0, "end_s": 8.0, "dominant": "sad"},
    ]
    segments = [
        {"start_s": 0, "end_s": 4, "label": "sad"},
        {"start_s": 4, "end_s": 8, "label": "happy"},
    ]

    result = score_windows(windows, segments)

    assert result["accuracy"] == 0.5
    assert result["uar"] == 0.5  # sad 1/2, happy 1/2
    assert result["windows_without_emotion"] == 1
    assert result["confusion"]["happy->sad"] == 1


@pytest.mark.slow
def test_prepare_models_converts_once_and_then_only_verifies(tmp_path):
    env = {"MOODLINE_MODEL_DIR": str(tmp_path)}

    first = moodline("prepare-models", env=env)
    started = time.perf_counter()
    second = moodline("prepare-models", env=env)
    second_s = time.perf_counter() - started

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    first_status = {line.split()[0]: line.split()[1] for line in first.stdout.splitlines()}
    second_status = {line.split()[0]: line.split()[1] for line in second.stdout.splitlines()}
    assert first_status["whisper-tiny.en"] == first_status["whisper-base"] == "converted"
    assert first_status["whisper-base-ct2"] == "assembled"
    assert second_status["whisper-tiny.en"] == second_status["whisper-base"] == "cached"
    assert second_status["whisper-base-ct2"] == "verified"
    assert second_status["whisper-tiny.en-ct2"] == "verified"
    assert second_status["silero-vad"] == "verified"
    assert second_s < 20
