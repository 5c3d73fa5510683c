"""Each benchmark runs end to end at tiny sizes, so none can rot unnoticed between `make bench`
runs. The figures themselves mean nothing at these sizes; the shape of the results does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.allocator import jemalloc_library
from benchmarks.common import REPO_ROOT
from benchmarks.pipeline_scaling import rows_from_runs
from benchmarks.transcribe import JFK

SMOKE_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/moodline_bench_smoke"


@pytest.fixture
def fresh_smoke_database() -> Iterator[str]:
    """An empty database: a seeding left by an earlier checkout was encrypted with its own
    development key, which this checkout cannot read."""
    import psycopg
    from psycopg import sql

    name = SMOKE_DATABASE_URL.rsplit("/", 1)[1]
    server = SMOKE_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    drop()
    yield SMOKE_DATABASE_URL
    drop()


def _run_benchmark(
    module: str, results: Path, *args: str, result: str | None = None, **env: str
) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "MOODLINE_BENCH_RESULTS": str(results), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    document: dict = json.loads((results / f"{result or module}.json").read_text())
    return document


@pytest.mark.slow
def test_the_web_benchmark_measures_every_endpoint_against_healthz(
    tmp_path: Path, fresh_smoke_database: str
) -> None:
    document = _run_benchmark(
        "web",
        tmp_path,
        "--sessions",
        "25",
        "--requests",
        "6",
        "--repeats",
        "1",
        "--concurrency",
        "2",
        DATABASE_URL=fresh_smoke_database,
    )

    rows = {(r["case"], r["metric"]): r for r in document["rows"]}
    for endpoint in (
        "session list",
        "patient page",
        "timeline overview (60 min)",
        "timeline zoom 5 min",
        "FHIR export (60 min)",
    ):
        p95 = rows[(f"{endpoint}, 25 sessions", "p95 ms")]
        assert p95["value"] > 0
        # beside the same read served as before, and the stack's floor on the same server
        assert p95["baseline"].startswith("before: daphne")
        assert p95["baseline_value"] > 0
        assert p95["note"].startswith("healthz p95"), p95["note"]  # and no failed requests
    sizes = document["details"]["levels"]["25"]["payload_bytes_60_min"]
    # the overview is downsampled: far smaller than the whole hour at full resolution
    assert sizes["overview"] < sizes["whole at full resolution"] / 3
    assert sizes["zoom 5 min"] < sizes["whole at full resolution"]


@pytest.mark.slow
@pytest.mark.browser
def test_the_review_page_benchmark_times_the_chart_and_a_zoom_beside_the_bare_reads(
    tmp_path: Path, fresh_smoke_database: str
) -> None:
    document = _run_benchmark(
        "review_page", tmp_path, "--sessions", "2", DATABASE_URL=fresh_smoke_database
    )

    rows = document["rows"]
    assert len(rows) == 4  # the chart and a zoom, idle and with every core busy
    for row in rows:
        assert row["value"] > 0
        assert row["baseline_value"] > 0
        # drawing costs something on top of fetching: the figure is the page's, not the API's
        assert row["value"] >= row["baseline_value"] * 0.5
    assert len(document["details"]["idle"]) == 2


@pytest.mark.slow
def test_the_upload_benchmark_measures_the_server_beside_daphne(
    tmp_path: Path, fresh_smoke_database: str
) -> None:
    document = _run_benchmark(
        "upload_memory",
        tmp_path,
        "--size-mb",
        "30",
        "--baseline-size-mb",
        "30",
        DATABASE_URL=fresh_smoke_database,
    )

    cases = {case["case"]: case for case in document["details"]["cases"]}
    streamed, buffered = cases["30 MB upload, uvicorn"], cases["30 MB upload, daphne"]
    assert streamed["status"] == buffered["status"] == 201
    # Daphne holds the body in memory; the production server streams it to disk
    assert buffered["above_idle_mib"] > 30
    assert streamed["above_idle_mib"] < buffered["above_idle_mib"] / 2
    row = next(r for r in document["rows"] if r["case"] == "30 MB upload, uvicorn")
    assert row["baseline"] == "30 MB upload, daphne"


@pytest.mark.slow
def test_the_pipeline_benchmark_runs_every_case_and_reports_the_device(tmp_path: Path) -> None:
    document = _run_benchmark(
        "pipeline_scaling", tmp_path, "--minutes", "0.05", "--repeats", "1", "--naive-seconds", "1"
    )

    runs = document["details"]["runs"]["0.05"]
    assert set(runs) == {
        "pipeline", "decode", "naive-face", "whisper-plain", "pipeline-system-malloc"
    }  # fmt: skip
    pipeline = runs["pipeline"][0]
    assert set(pipeline["stage_s"]) == {"ingest", "face", "voice", "transcript", "text", "fusion"}
    assert pipeline["device"] == document["machine"]["device"]
    # the pipeline runs on the allocator a worker runs on; its memory's baseline on glibc's
    assert pipeline["allocator"] == ("jemalloc" if jemalloc_library() else "system")
    assert runs["pipeline-system-malloc"][0]["allocator"] == "system"
    assert set(pipeline["resident_memory"]["by_stage"]) >= {"voice", "text", "fusion"}
    cases = {row["case"] for row in document["rows"]}
    assert {
        "pipeline end to end, 0.05 min",
        "face stage, 0.05 min",
        "transcript stage, 0.05 min",
    } <= cases
    baselines = {row["baseline"] for row in document["rows"] if row["metric"] == "MiB"}
    assert "glibc malloc (MOODLINE_ALLOCATOR=system)" in baselines
    # a child's memory is its own: decoding alone needs less than the whole pipeline
    assert 0 < runs["decode"][0]["peak_rss_mib"] < pipeline["peak_rss_mib"]


@pytest.mark.slow
def test_the_throughput_benchmark_runs_two_analyses_at_once_beside_the_old_settings(
    tmp_path: Path,
) -> None:
    document = _run_benchmark("throughput", tmp_path, "--minutes", "0.25", "--naive-seconds", "5")
    runs = document["details"]["runs"]
    concurrent = runs["concurrent"]
    assert [job["threads"] for job in concurrent["budget"]["jobs"]] == [1, 1]  # 2 cores ÷ 2
    assert [job["threads"] for job in concurrent["old threads"]["jobs"]] == [0, 0]
    assert [job["threads"] for job in runs["sequential"]["budget"]["jobs"]] == [
        len(os.sched_getaffinity(0))
    ] * 2
    cases = {(row["case"], row["baseline"]) for row in document["rows"]}
    assert ("two sessions, concurrent", "old thread settings") in cases
    assert any(case == "face stage, two at once" for case, _ in cases)
    for row in document["rows"]:
        assert row["value"] > 0
        assert row["baseline_value"] > 0


@pytest.mark.slow
def test_the_throughput_benchmark_prices_the_speech_emotion_head_beside_it_off(
    tmp_path: Path,
) -> None:
    document = _run_benchmark(
        "throughput", tmp_path, "--minutes", "0.25", "--speech-emotion",
        result="throughput_speech_emotion",
    )  # fmt: skip
    runs = document["details"]["runs"]
    on, off = runs["speech-emotion head on"]["jobs"], runs["speech-emotion head off"]["jobs"]
    assert len(on) == len(off) == 2
    # the head really read the voice with it on, and nothing with it off
    assert all(job["speech_emotion_segments"] > 0 for job in on)
    assert all(job["speech_emotion_segments"] == 0 for job in off)
    metrics = {row["metric"] for row in document["rows"]}
    assert {"aggregate real-time factor", "voice stage real-time factor"} <= metrics
    for row in document["rows"]:
        assert row["baseline"] == "the same, speech-emotion head off"
        assert row["value"] > 0
        assert row["baseline_value"] > 0


@pytest.mark.slow
def test_the_diarization_benchmark_scores_every_clustering_on_the_same_conversations(
    tmp_path: Path,
) -> None:
    document = _run_benchmark("diarization", tmp_path, "--quick")

    details = document["details"]
    assert {"now", "GE2E voiceprints (before)", "MFCC timbre (first)"} <= set(details)
    names = [[r["name"] for r in details[k]] for k in ("now", "GE2E voiceprints (before)")]
    assert names[0] == names[1]  # the same conversations, clustered every way
    assert len(names[0]) >= 8
    # both encoders timed on the same pieces
    assert details["encoder_rtf"]["now"] > 0
    assert details["encoder_rtf"]["GE2E voiceprints (before)"] > 0
    rows = {(row["case"], row["metric"], row["baseline"]): row for row in document["rows"]}
    one_voice = next(case for case, _, _ in rows if case.startswith("1 voice(s), "))
    phantoms = rows[
        (one_voice, "recordings with the wrong number of speakers", "MFCC timbre (first)")
    ]
    assert phantoms["value"] == 0  # no phantom second voice, the first target
    for row in document["rows"]:
        assert row["baseline_value"] is not None


@pytest.mark.slow
def test_the_speech_threshold_benchmark_reads_the_level_beside_the_audio_as_recorded(
    tmp_path: Path,
) -> None:
    document = _run_benchmark("speech_threshold", tmp_path, "--quick")

    level_rows = [r for r in document["rows"] if r["baseline"] == "read as recorded (before)"]
    rows = {(r["case"], r["metric"].split(",")[0]): r for r in level_rows}
    cases = {case for case, _ in rows}
    assert any(case.endswith("as made") for case in cases)
    assert any(case.endswith("with room tone") for case in cases)
    # a far microphone, 40 dB down: read as recorded, Silero hears almost none of it; brought
    # up, it misses at most half as much
    far = next(case for case in cases if "40 dB quieter" in case)
    assert rows[(far, "missed")]["baseline_value"] > 0.9
    assert rows[(far, "missed")]["value"] < rows[(far, "missed")]["baseline_value"] / 2
    # a room with nobody speaking, brought up, still holds no speech
    hiss = next(r for r in level_rows if "room hiss alone" in r["case"])
    assert hiss["value"] == 0


def test_the_vad_benchmark_times_lanes_beside_frame_by_frame_reading(tmp_path: Path) -> None:
    document = _run_benchmark("vad", tmp_path, "--minutes", "0.5", "--repeats", "2")

    rows = {(row["case"], row["metric"]): row for row in document["rows"]}
    speed = rows[("VAD, 0.5 min speech", "real-time factor")]
    assert speed["baseline"] == "frame by frame"
    assert speed["value"] > 0
    assert speed["baseline_value"] > 0
    assert len(document["details"]["seconds"]["lanes"]) == 2
    # the speed-up may not cost the segments: the same ones are found, to within a frame or two
    segments = rows[("VAD agreement, 0.5 min speech", "speech segments")]
    assert segments["value"] == segments["baseline_value"] > 0
    assert rows[("VAD agreement, 0.5 min speech", "largest boundary shift, s")]["value"] <= 0.1


@pytest.mark.slow
def test_the_transcribe_benchmark_compares_base_with_tiny_en_on_each_engine(tmp_path: Path) -> None:
    document = _run_benchmark("transcribe", tmp_path, "--minutes", "0.1", "--repeats", "1")

    rows = {(r["case"], r["metric"]): r for r in document["rows"]}
    real_speech = ("jfk.flac 11 s",) if JFK.is_file() else ()  # optional, beside the project
    for case in ("session 0.1 min", *real_speech):
        for engine in ("faster-whisper", "openai-whisper"):
            tiny = rows[(f"{case}: {engine} tiny.en on VAD speech", "real-time factor")]
            base = rows[(f"{case}: {engine} base on VAD speech", "real-time factor")]
            assert tiny["baseline"] == "openai-whisper plain transcribe"
            assert base["baseline"] == f"{engine} tiny.en on VAD speech"
            assert base["baseline_value"] == tiny["value"] > 0
            assert (f"{case}: {engine} base on VAD speech", "WER") in rows
    assert document["details"]["default_model"] == "tiny.en"


def _runs(seconds: float, rss_mib: float) -> dict[str, list[dict]]:
    return {
        "pipeline": [
            {
                "seconds": seconds,
                "stage_s": {"face": seconds / 2, "transcript": seconds / 4},
                "peak_rss_mib": rss_mib,
                "device": "cpu",
                "engine": "faster-whisper",
                "sample_fps": 5.0,
            }
        ],
        "decode": [{"seconds": seconds / 50, "frames": 300, "peak_rss_mib": 100.0}],
    }


def test_linear_cost_and_flat_memory_read_as_ratios_near_one() -> None:
    # Given 1 minute in 30 s and 10 minutes in 300 s, both at 800 MiB
    rows = {r.case: r for r in rows_from_runs({1.0: _runs(30.0, 800.0), 10.0: _runs(300.0, 800.0)})}

    growth = rows["pipeline, added cost per input minute, 1→10 min"]
    assert growth.value == pytest.approx(30.0)
    assert growth.ratio == pytest.approx(1.0)
    assert rows["pipeline peak RSS growth, 1→10 min"].ratio == pytest.approx(1.0)
    assert rows["pipeline end to end, 1 min"].value == pytest.approx(0.5)
    assert rows["pipeline end to end, 1 min"].baseline == "decoding alone"


def test_memory_that_grows_with_the_recording_shows_in_the_ratio() -> None:
    rows = {
        r.case: r for r in rows_from_runs({1.0: _runs(30.0, 500.0), 10.0: _runs(300.0, 2000.0)})
    }
    assert rows["pipeline peak RSS growth, 1→10 min"].ratio == pytest.approx(4.0)
    per_hour = rows["pipeline peak RSS growth per hour of recording, 1→10 min"]
    assert per_hour.value == pytest.approx(1500 / 9 * 60, abs=0.1)
    assert "4-hour recording peaks near 40333 MiB" in per_hour.note
