"""The stage contract: typed, versioned outputs, and the one runner's reuse of saved outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.labels import EMOTIONS
from analysis.modality import Modality
from analysis.pipeline import (
    STAGE_NAMES,
    FileStageStore,
    MemoryStageStore,
    PipelineOptions,
    analyse_file,
    run_pipeline,
    stage_fingerprints,
)
from analysis.stage_outputs import FaceOutput, IngestOutput, MediaSummary, OutputVersionError
from analysis.stages import STAGES
from analysis.voice.vad import SpeechSegment
from tests.analysis.speech_factory import join, silence, speak, write_wav

VOICE_ONLY = PipelineOptions(modalities=frozenset({Modality.VOICE}))


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audio = join(silence(0.3), speak("I slept badly again this week."), silence(0.3))
    return write_wav(tmp_path_factory.mktemp("audio") / "speech.wav", audio)


def test_every_stage_declares_a_versioned_output_and_reads_only_earlier_stages():
    seen: set[str] = set()
    for stage in STAGES:
        assert set(stage.reads) <= seen, f"{stage.name} reads a later stage"
        assert isinstance(stage.output.VERSION, int)
        seen.add(stage.name)
    assert STAGE_NAMES == ("ingest", "face", "voice", "transcript", "text", "fusion")


def test_an_output_round_trips_through_json_and_refuses_another_version():
    ingest = IngestOutput(
        media=MediaSummary("a.wav", 2.5, False, True, 1, None, None, None),
        speech=(SpeechSegment(0.3, 1.9),),
        models=({"name": "silero-vad", "sha256": "0" * 64},),
    )

    assert IngestOutput.from_json(json.loads(json.dumps(ingest.to_json()))) == ingest
    with pytest.raises(OutputVersionError):
        IngestOutput.from_json({**ingest.to_json(), "version": IngestOutput.VERSION + 1})


def test_a_saved_output_of_the_old_shape_is_recomputed_not_half_read(speech: Path, tmp_path):
    # What the pipeline wrote before its outputs were versioned: a plain dict, no version.
    fingerprint = stage_fingerprints(speech, VOICE_ONLY)["ingest"]
    old = {"media": {"duration_s": 99.0, "has_video": False}, "speech": [], "models": []}
    (tmp_path / "ingest.json").write_text(
        json.dumps({"stage": "ingest", "fingerprint": fingerprint, "output": old})
    )

    document = analyse_file(speech, options=VOICE_ONLY, workdir=tmp_path)

    assert document["duration_s"] < 10  # the file's, not the stale 99 s
    saved = json.loads((tmp_path / "ingest.json").read_text())
    assert saved["output"]["version"] == IngestOutput.VERSION
    assert saved["output"]["speech"], "the recomputed ingest found the speech"


def test_the_runner_reuses_what_a_store_holds_and_reports_its_timings(speech: Path):
    store = MemoryStageStore()
    first = run_pipeline(speech, options=VOICE_ONLY, store=store)
    second = run_pipeline(speech, options=VOICE_ONLY, store=store)

    assert set(first.seconds) == set(STAGE_NAMES)
    assert first.seconds["ingest"] > 0
    assert all(seconds == 0.0 for seconds in second.seconds.values())
    assert second.outputs.ingest == first.outputs.ingest
    assert second.outputs.voice == first.outputs.voice
    assert second.document["windows"] == first.document["windows"]


def test_a_stage_without_its_modality_is_saved_as_nothing_to_do(speech: Path, tmp_path):
    analyse_file(speech, options=VOICE_ONLY, workdir=tmp_path)

    store = FileStageStore(tmp_path)
    fingerprints = stage_fingerprints(speech, VOICE_ONLY)
    face = store.load("face", fingerprints["face"])
    transcript = store.load("transcript", fingerprints["transcript"])
    assert face is not None
    assert face.output is None
    assert transcript is not None
    assert transcript.output is None


def test_a_face_track_keeps_its_frames_as_arrays_and_writes_them_as_computed() -> None:
    frames = {
        "track_id": 0,
        "times_s": [0.2, 0.4, 0.6],
        "boxes": [[10.1, 20.2, 110.3, 140.4]] * 3,
        "landmarks": [[[30.5, 40.5]] * 5] * 3,
        "det_scores": [0.9987, 0.9991, 0.9979],
        "frame_probs": [[0.1234, 0.0, 0.5, 0.1, 0.0766, 0.1, 0.1]] * 3,
        "mouth_motion": [0.0, 0.0312, 0.0457],
        "windows": [],
        "baseline": None,
    }
    document = {
        "version": FaceOutput.VERSION,
        "sample_fps": 5.0,
        "duration_s": 0.8,
        "no_face": False,
        "tracks": [frames],
        "models": [],
        "labels": list(EMOTIONS),
    }

    output = FaceOutput.from_json(document)
    track = output.tracks[0]

    assert track.frame_probs.dtype == np.float32
    assert track.frame_probs.shape == (3, len(EMOTIONS))
    assert track.landmarks.shape == (3, 5, 2)
    # Written as computed, not as float32 rounding error (0.12339999...).
    assert json.loads(json.dumps(output.to_json())) == document
