"""Throughput on shared cores: two analyses at once, as production runs them (one per core).

Two `--minutes` session-like recordings (720p, 25 fps, a face, two voices) are analysed by two
worker-like processes at the same time, and then one after the other, each way twice: with
the thread budget (analysis/threads.py: each process sizes torch, OpenMP, CTranslate2 and the
decoder to its share of the cores) and with the old settings (every library sizes itself from
the whole machine), in the same run on the same files. Each process is its own child
(benchmarks/_pipeline_child.py), as a Celery worker is.

Reported: each job's real-time factor (its own processing time ÷ its media), the aggregate
(wall time from the first start to the last end ÷ all the media), and the face stage's frames
per second beside the naive per-frame loop's under the same contention (two at once).
Targets: aggregate RTF <= 0.10 for two concurrent analyses; single-job RTF <= 0.08; face
stage >= 3x the naive loop.

    python -m benchmarks.throughput                 # two 10-minute sessions
    python -m benchmarks.throughput --minutes 2     # quicker, noisier

`--speech-emotion` measures instead what the optional speech-emotion head
(`MOODLINE_SPEECH_EMOTION=ravdess-nc`, off by default) costs under the same contention: the two
sessions analysed at once with the head on, beside the same with it off, in the same run
(results/throughput_speech_emotion.json). `--speaker-encoder` measures the same way what the
CAM++ speaker encoder, the default, costs beside GE2E (`MOODLINE_SPEAKER_ENCODER=ge2e`), the
encoder it replaced (results/throughput_speaker_encoder.json).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.allocator import analysis_environment
from benchmarks._recording import RecordingSpec, write_recording
from benchmarks.common import (
    ChildRun,
    Row,
    print_rows,
    python_child,
    run_child,
    write_result,
)

TARGET_AGGREGATE_RTF = 0.10
TARGET_SINGLE_RTF = 0.08
TARGET_FACE_SPEEDUP = 3.0
CHILD_TIMEOUT_S = 4 * 60 * 60
SETTINGS = {
    # The budget as production sets it: two analyses share the machine's cores.
    "budget": {"MOODLINE_CONCURRENT_ANALYSES": "2"},
    # What ran before: each library takes every core for itself.
    "old threads": {"MOODLINE_ANALYSIS_THREADS": "0"},
}


@dataclass(frozen=True)
class Cost:
    """What one setting costs: both sessions at once with it, beside the same without it."""

    result: str  # the result file's name
    subject: str  # the run with it, as the rows and the result's runs name it
    without: str  # the run without it, as the result's runs name it
    with_it: dict[str, str]  # the environment with it, under the budget
    without_it: dict[str, str]

    @property
    def baseline(self) -> str:
        return f"the same, {self.without}"


COSTS = {
    # the optional speech-emotion head, off by default
    "speech_emotion": Cost(
        "throughput_speech_emotion",
        "speech-emotion head on",
        "speech-emotion head off",
        {**SETTINGS["budget"], "MOODLINE_SPEECH_EMOTION": "ravdess-nc"},
        SETTINGS["budget"],
    ),
    # the default speaker encoder, CAM++, beside the one it replaced
    "speaker_encoder": Cost(
        "throughput_speaker_encoder",
        "CAM++ speaker encoder",
        "GE2E speaker encoder (before)",
        SETTINGS["budget"],
        {**SETTINGS["budget"], "MOODLINE_SPEAKER_ENCODER": "ge2e"},
    ),
}
SEQUENTIAL_SETTINGS = {
    "budget": {"MOODLINE_CONCURRENT_ANALYSES": "1"},
    "old threads": {"MOODLINE_ANALYSIS_THREADS": "0"},
    # The budget, with the stages one after the other each on every thread, as before the
    # independent ones ran side by side.
    "stages in turn": {"MOODLINE_CONCURRENT_ANALYSES": "1", "MOODLINE_STAGES_SIDE_BY_SIDE": "0"},
}


def _child(case: str, recording: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    run: ChildRun = run_child(
        python_child("benchmarks._pipeline_child", case, str(recording), *extra),
        env=analysis_environment({**os.environ, **env}),  # started as a worker is
        timeout_s=CHILD_TIMEOUT_S,
    )
    if run.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{run.stderr[-3000:]}")
    return {**run.last_json(), "wall_s": run.seconds, "peak_rss_mib": round(run.peak_rss_mib, 1)}


def together(case: str, recordings: Sequence[Path], env: dict[str, str], *extra: str) -> Any:
    """Start one child per recording at once; the wall time until the last has finished."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(recordings)) as pool:
        jobs = [pool.submit(_child, case, path, env, *extra) for path in recordings]
        results = [job.result() for job in jobs]
    return {"wall_s": time.perf_counter() - started, "jobs": results}


def one_after_another(recordings: Sequence[Path], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    results = [_child("pipeline", path, env) for path in recordings]
    return {"wall_s": time.perf_counter() - started, "jobs": results}


def _face_fps(job: dict[str, Any], media_s: float) -> float:
    return media_s * job["sample_fps"] / job["stage_s"]["face"]


def rows_from(runs: dict[str, Any], media_s: float, naive_s: float) -> list[Row]:
    rows: list[Row] = []
    total_media = 2 * media_s
    for mode in ("concurrent", "sequential"):
        new, old = runs[mode]["budget"], runs[mode]["old threads"]
        rows.append(
            Row(
                case=f"two sessions, {mode}",
                metric="aggregate real-time factor",
                value=round(new["wall_s"] / total_media, 4),
                baseline="old thread settings",
                baseline_value=round(old["wall_s"] / total_media, 4),
                note=f"target <= {TARGET_AGGREGATE_RTF}" if mode == "concurrent" else "",
            )
        )
        for index, (job, old_job) in enumerate(zip(new["jobs"], old["jobs"], strict=True)):
            rows.append(
                Row(
                    case=f"two sessions, {mode}, job {index + 1}",
                    metric="real-time factor",
                    value=round(job["seconds"] / media_s, 4),
                    baseline="old thread settings",
                    baseline_value=round(old_job["seconds"] / media_s, 4),
                )
            )
    in_turn = runs["sequential"]["stages in turn"]["jobs"]
    for index, (job, old_job) in enumerate(
        zip(runs["sequential"]["budget"]["jobs"], in_turn, strict=True)
    ):
        rows.append(
            Row(
                case=f"one session alone, job {index + 1}",
                metric="real-time factor",
                value=round(job["seconds"] / media_s, 4),
                baseline="the same budget, stages one after the other",
                baseline_value=round(old_job["seconds"] / media_s, 4),
                note=f"target <= {TARGET_SINGLE_RTF}",
            )
        )
    naive = runs["naive face, concurrent"]["jobs"]
    naive_fps = sum(job["frames"] / job["seconds"] for job in naive) / len(naive)
    face_fps = [_face_fps(job, media_s) for job in runs["concurrent"]["budget"]["jobs"]]
    rows.append(
        Row(
            case="face stage, two at once",
            metric="frames/s per analysis",
            value=round(sum(face_fps) / len(face_fps), 2),
            baseline=f"naive per-frame loop, two at once (first {naive_s:g} s)",
            baseline_value=round(naive_fps, 2),
            note=f"target >= {TARGET_FACE_SPEEDUP}x",
        )
    )
    old_face = [_face_fps(job, media_s) for job in runs["concurrent"]["old threads"]["jobs"]]
    rows.append(
        Row(
            case="face stage, two at once",
            metric="frames/s per analysis",
            value=round(sum(face_fps) / len(face_fps), 2),
            baseline="old thread settings",
            baseline_value=round(sum(old_face) / len(old_face), 2),
        )
    )
    return rows


def cost_rows(runs: dict[str, Any], media_s: float, cost: Cost) -> list[Row]:
    """A setting's cost: both sessions at once with it, beside the same without it."""
    on, off = runs[cost.subject], runs[cost.without]
    rows = [
        Row(
            case=f"two sessions at once, {cost.subject}",
            metric="aggregate real-time factor",
            value=round(on["wall_s"] / (2 * media_s), 4),
            baseline=cost.baseline,
            baseline_value=round(off["wall_s"] / (2 * media_s), 4),
        )
    ]
    for index, (job, old_job) in enumerate(zip(on["jobs"], off["jobs"], strict=True)):
        case = f"two sessions at once, {cost.subject}, job {index + 1}"
        rows += [
            Row(
                case=case,
                metric="real-time factor",
                value=round(job["seconds"] / media_s, 4),
                baseline=cost.baseline,
                baseline_value=round(old_job["seconds"] / media_s, 4),
            ),
            Row(
                case=case,
                metric="voice stage real-time factor",
                value=round(job["stage_s"]["voice"] / media_s, 4),
                baseline=cost.baseline,
                baseline_value=round(old_job["stage_s"]["voice"] / media_s, 4),
            ),
        ]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, help="length of each session (default 10)")
    parser.add_argument(
        "--naive-seconds", type=float, help="video the naive face loop runs on (default 60)"
    )
    parser.add_argument("--quick", action="store_true", help="two 1-minute sessions")
    parser.add_argument(
        "--speech-emotion", action="store_true", help="what the optional speech-emotion head costs"
    )
    parser.add_argument(
        "--speaker-encoder", action="store_true", help="what CAM++ costs beside GE2E"
    )
    args = parser.parse_args(argv)
    args.minutes = args.minutes or (1.0 if args.quick else 10.0)
    args.naive_seconds = args.naive_seconds or (20.0 if args.quick else 60.0)
    load_before = [round(load, 2) for load in os.getloadavg()]
    with tempfile.TemporaryDirectory() as folder:
        recordings = [
            write_recording(
                Path(folder) / f"session-{seed}.mp4", RecordingSpec(args.minutes, seed=seed)
            )
            for seed in (1, 2)
        ]
        for asked in ("speech_emotion", "speaker_encoder"):
            if getattr(args, asked):
                return _cost(COSTS[asked], recordings, args.minutes, load_before)
        runs: dict[str, Any] = {"concurrent": {}, "sequential": {}}
        for name, env in SETTINGS.items():
            runs["concurrent"][name] = together("pipeline", recordings, env)
        for name, env in SEQUENTIAL_SETTINGS.items():
            runs["sequential"][name] = one_after_another(recordings, env)
        runs["naive face, concurrent"] = together(
            "naive-face", recordings, SETTINGS["budget"], str(args.naive_seconds)
        )
    media_s = args.minutes * 60
    rows = rows_from(runs, media_s, args.naive_seconds)
    print_rows(f"Throughput: two {args.minutes:g}-minute sessions on this machine", rows)
    details = {
        "minutes": args.minutes,
        "load_average_before": load_before,
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "runs": runs,
    }
    path = write_result("throughput", rows, details)
    print(f"written to {path}")
    return 0


def _cost(cost: Cost, recordings: Sequence[Path], minutes: float, load_before: Any) -> int:
    runs = {
        cost.without: together("pipeline", recordings, cost.without_it),
        cost.subject: together("pipeline", recordings, cost.with_it),
    }
    rows = cost_rows(runs, minutes * 60, cost)
    print_rows(f"What the {cost.subject} costs: two {minutes:g}-minute sessions at once", rows)
    details = {
        "minutes": minutes,
        "load_average_before": load_before,
        "load_average_after": [round(load, 2) for load in os.getloadavg()],
        "runs": runs,
    }
    print(f"written to {write_result(cost.result, rows, details)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
