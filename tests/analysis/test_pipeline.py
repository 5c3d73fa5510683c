"""The whole pipeline on real little recordings: a talking client, no audio, no face, no consent."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import Cancelled, MediaError, ModelError
from analysis.modality import Modality
from analysis.pipeline import STAGE_NAMES as STAGES
from analysis.pipeline import PipelineOptions, analyse_file, stage_fingerprints, stages_in_label
from analysis.stages import STAGES as PIPELINE_STAGES
from analysis.timeline import validate_timeline
from tests.analysis.face_factory import astronaut_head
from tests.analysis.media_factory import MovingFace, write_clip
from tests.analysis.speech_factory import (
    RATE_HZ,
    join,
    silence,
    speak,
    two_speaker_stereo,
    write_wav,
)

SAD = "I have been feeling hopeless and empty all week."
HOPEFUL = "But today I feel a little more hopeful about the future."


def talking_clip(path: Path, *, with_face: bool = True, with_audio: bool = True) -> Path:
    audio = join(silence(0.3), speak(SAD), silence(1.0), speak(HOPEFUL), silence(0.3))
    faces = [MovingFace(astronaut_head(), (100, 60), (120, 70))] if with_face else []
    return write_clip(
        path,
        duration_s=len(audio) / RATE_HZ,
        audio=audio if with_audio else None,
        audio_rate_hz=RATE_HZ,
        faces=faces,
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return talking_clip(tmp_path_factory.mktemp("clips") / "session.mp4")


@pytest.fixture(scope="module")
def analysed(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, list]:
    workdir = tmp_path_factory.mktemp("work")
    reports: list[tuple[str, float]] = []
    document = analyse_file(
        clip,
        options=PipelineOptions(),
        workdir=workdir,
        progress=lambda stage, fraction: reports.append((stage, fraction)),
    )
    return document, workdir, reports


@pytest.mark.slow
def test_a_session_with_a_talking_client_becomes_a_valid_timeline(analysed):
    document, workdir, _ = analysed

    validate_timeline(document)
    assert document["schema"] == "moodline.timeline/1"
    assert len(document["windows"]) == int(np.ceil(document["duration_s"] / 2.0))
    texts = " ".join(u["text"] for u in document["transcript"]).lower()
    assert "hopeless" in texts
    assert "hopeful" in texts
    sad, hopeful = document["transcript"]
    assert sad["scored"]
    assert sad["role"] == "client"
    assert sad["speaker"] == "S1"
    assert sad["valence"] < 0 < hopeful["valence"]
    assert sad["sentiment"]["label"] == "negative"
    assert document["face_tracks"][0]["role"] == "client"
    assert all("face" in w["modalities"] for w in document["windows"])
    assert any("text" in w["modalities"] for w in document["windows"])
    # Each window names the frames it was read from, and where the face was in each: inside
    # the head pasted at (100..120, 60..70), 100 x 110 px.
    for window in document["windows"]:
        frames = window["modalities"]["face"]["frames"]
        assert frames
        for frame in frames:
            assert window["start_s"] <= frame["t_s"] < window["end_s"]
            x1, y1, x2, y2 = frame["box"]
            assert 100 <= (x1 + x2) / 2 <= 220
            assert 60 <= (y1 + y2) / 2 <= 180
    names = {m["name"] for m in document["models"]}
    assert {"silero-vad", "all-MiniLM-L6-v2", "vader-lexicon", "text-emotion-head"} <= names
    assert any(name.startswith("whisper-tiny.en") for name in names)
    assert all(len(m["sha256"]) == 64 for m in document["models"])
    assert sorted(p.name for p in workdir.glob("*.json")) == sorted(f"{s}.json" for s in STAGES)


@pytest.mark.slow
def test_progress_moves_forward_through_the_stages_to_the_end(analysed):
    reports = analysed[2]

    fractions = [f for _, f in reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    # Independent stages may run side by side ("face + transcript"); each stage is named, and
    # never before a stage whose output it reads.
    first_named: dict[str, int] = {}
    for index, (label, _) in enumerate(reports):
        for name in stages_in_label(label):
            first_named.setdefault(name, index)
    assert set(first_named) == set(STAGES)
    for stage in PIPELINE_STAGES:
        assert all(first_named[read] <= first_named[stage.name] for read in stage.reads)
    assert reports[-1][0] == "fusion"


@pytest.mark.slow
def test_a_rerun_with_a_role_set_by_the_clinician_redoes_only_fusion(clip, analysed, monkeypatch):
    _, workdir, _ = analysed
    before = {s: (workdir / f"{s}.json").stat().st_mtime_ns for s in STAGES}

    def refuse(texts):
        raise AssertionError("a role change must not run the text models again")

    monkeypatch.setattr("analysis.text.emotion.embed", refuse)

    document = analyse_file(
        clip,
        options=PipelineOptions(role_overrides=(("speaker:S1", "clinician"),)),
        workdir=workdir,
    )

    after = {s: (workdir / f"{s}.json").stat().st_mtime_ns for s in STAGES}
    assert [s for s in STAGES if after[s] != before[s]] == ["fusion"]
    assert document["speakers"][0]["role_source"] == "clinician"
    assert not any(u["scored"] for u in document["transcript"])
    assert all(u["sentiment"] is None for u in document["transcript"])


@pytest.mark.slow
def test_a_rerun_with_whisper_base_redoes_the_transcript_and_names_base_in_the_timeline(
    clip, analysed, tmp_path
):
    _, workdir, _ = analysed
    shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)  # the tiny.en run's stage outputs
    before = {s: (tmp_path / f"{s}.json").stat().st_mtime_ns for s in STAGES}

    base = PipelineOptions(transcript_model="base")
    document = analyse_file(clip, options=base, workdir=tmp_path)

    after = {s: (tmp_path / f"{s}.json").stat().st_mtime_ns for s in STAGES}
    assert [s for s in STAGES if after[s] != before[s]] == ["transcript", "text", "fusion"]
    validate_timeline(document)
    assert document["options"]["transcript_model"] == "base"
    whisper = [m["name"] for m in document["models"] if m["name"].startswith("whisper")]
    assert whisper in (["whisper-base-ct2"], ["whisper-base"])  # by the engine that ran
    texts = " ".join(u["text"] for u in document["transcript"]).lower()
    assert "hopeless" in texts
    assert "hopeful" in texts


def test_changing_the_transcript_model_invalidates_only_the_transcript_and_what_reads_it(
    tmp_path,
):
    recording = tmp_path / "session.wav"
    recording.write_bytes(b"RIFF" + bytes(4096))

    tiny = stage_fingerprints(recording, PipelineOptions(transcript_model="tiny.en"))
    base = stage_fingerprints(recording, PipelineOptions(transcript_model="base"))

    assert [s for s in STAGES if tiny[s] != base[s]] == ["transcript", "text", "fusion"]


def test_an_unknown_transcript_model_is_refused_before_any_stage_runs(tmp_path):
    recording = write_wav(tmp_path / "session.wav", speak(SAD))
    workdir = tmp_path / "work"
    workdir.mkdir()

    with pytest.raises(ModelError, match="unknown transcript model 'large-v3'"):
        analyse_file(
            recording, options=PipelineOptions(transcript_model="large-v3"), workdir=workdir
        )
    assert list(workdir.iterdir()) == []


@pytest.mark.slow
def test_a_cancelled_job_stops_at_a_stage_boundary_and_resumes_where_it_stopped(clip, tmp_path):
    options = PipelineOptions(modalities=frozenset({Modality.VOICE}))

    def cancel_after_ingest() -> bool:
        return (tmp_path / "ingest.json").exists()

    with pytest.raises(Cancelled):
        analyse_file(clip, options=options, workdir=tmp_path, should_cancel=cancel_after_ingest)
    # the face stage (nothing to do without consent) may have run beside the ingest; no stage
    # that reads the ingest started
    assert {p.name for p in tmp_path.glob("*.json")} <= {"ingest.json", "face.json"}
    saved_ingest = (tmp_path / "ingest.json").stat().st_mtime_ns

    document = analyse_file(clip, options=options, workdir=tmp_path)

    validate_timeline(document)
    assert (tmp_path / "ingest.json").stat().st_mtime_ns == saved_ingest
    assert {g["modality"]: g["reason"] for g in document["gaps"]} == {
        "face": "no_consent",
        "text": "no_consent",
    }
    assert document["transcript"] == []
    assert document["face_tracks"] == []


@pytest.mark.slow
def test_a_video_without_audio_gives_a_timeline_with_the_voice_and_words_missing(tmp_path):
    silent = talking_clip(tmp_path / "silent.mp4", with_audio=False)

    document = analyse_file(silent, options=PipelineOptions(), workdir=tmp_path / "work")

    validate_timeline(document)
    reasons = {g["modality"]: g["reason"] for g in document["gaps"]}
    assert reasons == {"voice": "no_audio_stream", "text": "no_audio_stream"}
    assert document["transcript"] == []
    assert document["speakers"] == []
    assert all(w["dominant"] is not None for w in document["windows"])


@pytest.mark.slow
def test_a_recording_without_a_face_gives_a_timeline_from_voice_and_words(tmp_path):
    faceless = talking_clip(tmp_path / "faceless.mp4", with_face=False)

    document = analyse_file(faceless, options=PipelineOptions(), workdir=tmp_path / "work")

    validate_timeline(document)
    assert {g["modality"]: g["reason"] for g in document["gaps"]} == {"face": "no_face"}
    assert document["face_tracks"] == []
    assert "hopeless" in document["transcript"][0]["text"].lower()
    assert any(w["valence"] is not None for w in document["windows"])
    assert all({"modality": "face", "reason": "no_face"} in w["gaps"] for w in document["windows"])


@pytest.mark.slow
def test_a_recording_with_neither_a_face_nor_audio_is_rejected(tmp_path):
    blank = talking_clip(tmp_path / "blank.mp4", with_face=False, with_audio=False)

    with pytest.raises(MediaError, match="nothing to analyse"):
        analyse_file(blank, options=PipelineOptions(), workdir=tmp_path / "work")


def test_a_file_that_is_not_media_is_rejected_before_any_stage_runs(tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("session notes, not a recording")

    with pytest.raises(MediaError) as raised:
        analyse_file(notes, options=PipelineOptions(), workdir=tmp_path / "work")

    assert raised.value.code == "not_media"
    assert not (tmp_path / "work" / "fusion.json").exists()


@pytest.mark.slow
def test_a_telehealth_export_with_one_channel_per_person_scores_only_the_client(tmp_path):
    turns = [
        ("client", "I have not been sleeping well since the move."),
        ("clinician", "How long has that been going on?"),
        ("client", "About three weeks now, and I feel exhausted."),
    ]
    export = write_wav(tmp_path / "call.wav", two_speaker_stereo(turns))

    document = analyse_file(export, options=PipelineOptions(), workdir=tmp_path / "work")

    validate_timeline(document)
    speakers = {s["id"]: s for s in document["speakers"]}
    assert {(s["channel"], s["role"]) for s in speakers.values()} == {
        (0, "client"),
        (1, "clinician"),
    }
    assert document["options"]["speaker_method"] == "channels"
    client, clinician, client_again = document["transcript"]
    assert "sleeping" in client["text"].lower()
    assert (client["role"], client["scored"]) == ("client", True)
    assert (clinician["role"], clinician["scored"]) == ("clinician", False)
    assert clinician["sentiment"] is None
    assert clinician["emotions"] is None
    assert client_again["scored"]
    assert {g["modality"]: g["reason"] for g in document["gaps"]} == {"face": "no_video_stream"}
