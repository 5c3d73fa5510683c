"""Pipeline scaling benchmark: speed and memory on 1-, 10- and 60-minute recordings.

Generates session-like recordings (720p, 25 fps, a moving face, espeak-ng speech with pauses;
benchmarks/_recording.py) into a temporary folder, then measures, each case in its own process
(benchmarks/_pipeline_child.py) so its peak resident memory is its own:

- the pipeline: per-stage and end-to-end real-time factor (seconds of work per second of
  recording), analysed frames per second, peak RSS;
- its baselines, in the same run on the same file: decoding alone (the floor), the naive
  per-frame face loop (against the face stage), and openai-whisper's plain `transcribe` of the
  whole audio (against the transcript stage);
- growth: seconds of work per added minute of input between the smallest and largest sizes,
  the ratio of peak memory between them (flat memory: close to 1), and peak memory's growth
  per hour of recording with the 4-hour peak it implies;
- memory's baseline: the pipeline on glibc's malloc (`pipeline-system-malloc`), where the
  `pipeline` case runs on the allocator a worker runs on (analysis/allocator.py).

    python -m benchmarks.pipeline_scaling              # 1, 10, 60 minutes; 3 repeats (hours)
    python -m benchmarks.pipeline_scaling --quick      # 1 and 10 minutes; 1 repeat
    python -m benchmarks.pipeline_scaling --minutes 1 3 --repeats 2
    python -m benchmarks.pipeline_scaling --minutes 10 240 --repeats 1 --cases pipeline \
        --tile-minutes 10 --result pipeline_memory    # memory up to 4 hours (10 minutes x 24)

The device is `MOODLINE_DEVICE` (analysis/device.py: auto = CUDA when available) and is
reported with the results.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.allocator import ALLOCATOR_VARIABLE, SYSTEM, analysis_environment
from benchmarks._recording import RecordingSpec, repeat_recording, write_recording
from benchmarks.common import Row, print_rows, python_child, run_child, summarise, write_result

FULL_MINUTES = (1.0, 10.0, 60.0)
QUICK_MINUTES = (1.0, 10.0)
SYSTEM_MALLOC = "pipeline-system-malloc"  # the pipeline as before jemalloc: memory's baseline
CASES = ("pipeline", "decode", "naive-face", "whisper-plain", SYSTEM_MALLOC)
CASE_TIMEOUT_S = 6 * 60 * 60
SECONDS_PER_MINUTE = 60.0
LONGEST_HOURS = 4.0  # the longest session a worker should analyse within its memory
TARGET_LONGEST_PEAK_MIB = 1536


@dataclass(frozen=True)
class ScalingOptions:
    minutes: tuple[float, ...] = FULL_MINUTES  # recording lengths to measure
    repeats: int = 3  # runs of every case on every recording
    cases: tuple[str, ...] = CASES  # which measurements to make
    # the naive face loop runs on this much of each recording at most (its per-frame cost does
    # not depend on length, and on an hour of video it would take many hours)
    naive_seconds: float = 120.0
    # recordings longer than this are this many minutes repeated (benchmarks/_recording.py,
    # `repeat_recording`); None: each length drawn and encoded in full
    tile_minutes: float | None = None


def measure_case(case: str, recording: Path, *extra: str) -> dict[str, Any]:
    """One case in its own process, started as a worker is (analysis/allocator.py)."""
    system = case == SYSTEM_MALLOC
    environment = analysis_environment(
        {**os.environ, ALLOCATOR_VARIABLE: SYSTEM} if system else None
    )
    case = "pipeline" if system else case
    child = run_child(
        python_child("benchmarks._pipeline_child", case, str(recording), *extra),
        env=environment,
        timeout_s=CASE_TIMEOUT_S,
    )
    if child.returncode != 0:
        raise RuntimeError(f"{case} failed on {recording.name}:\n{child.stderr[-3000:]}")
    result = child.last_json()
    result["peak_rss_mib"] = child.peak_rss_mib
    return result


def measure(
    options: ScalingOptions,
    on_size_done: Callable[[list[Row], dict[str, Any]], object] | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Every case on every size; `on_size_done` gets the results so far after each size, so a
    run stopped during the hour-long recording keeps what the shorter ones measured."""
    runs: dict[float, dict[str, list[dict[str, Any]]]] = {}
    generated: dict[float, dict[str, float]] = {}

    def details() -> dict[str, Any]:
        return {
            "options": {
                "minutes": list(options.minutes),
                "repeats": options.repeats,
                "cases": list(options.cases),
                "naive_seconds": options.naive_seconds,
                "tile_minutes": options.tile_minutes,
            },
            "recording": "1280x720, 25 fps, H.264 crf 35, AAC 16 kHz mono speech with pauses",
            "generated": {f"{m:g}": g for m, g in generated.items()},
            "runs": {f"{m:g}": r for m, r in runs.items()},
        }

    with tempfile.TemporaryDirectory(prefix="moodline-bench-") as folder:
        for minutes in options.minutes:
            path = Path(folder) / f"session-{minutes:g}min.mp4"
            started = time.perf_counter()
            tile = options.tile_minutes
            if tile is not None and minutes > tile:
                # the tile, once, then copied end to end: memory grows with what is analysed,
                # not with whether the minutes differ
                tile_path = Path(folder) / f"tile-{tile:g}min.mp4"
                if not tile_path.exists():
                    write_recording(tile_path, RecordingSpec(minutes=tile))
                repeat_recording(tile_path, path, round(minutes / tile))
            else:
                write_recording(path, RecordingSpec(minutes=minutes))
            generated[minutes] = {
                "seconds": round(time.perf_counter() - started, 1),
                "mib": round(path.stat().st_size / 2**20, 1),
            }
            print(f"generated {path.name}: {generated[minutes]}", flush=True)
            runs[minutes] = {case: [] for case in options.cases}
            for _ in range(options.repeats):
                for case in options.cases:  # interleaved, so a noisy minute hits every case
                    extra = [str(options.naive_seconds)] if case == "naive-face" else []
                    runs[minutes][case].append(measure_case(case, path, *extra))
                    print(f"  {minutes:g} min {case}: {runs[minutes][case][-1]}", flush=True)
            path.unlink()
            if on_size_done is not None:
                on_size_done(rows_from_runs(runs), details())
    return rows_from_runs(runs), details()


def _median(results: Sequence[dict[str, Any]], key: str) -> float:
    return summarise([float(r[key]) for r in results]).median


def rows_from_runs(runs: dict[float, dict[str, list[dict[str, Any]]]]) -> list[Row]:
    rows: list[Row] = []
    for minutes, cases in runs.items():
        duration_s = minutes * SECONDS_PER_MINUTE
        size = f"{minutes:g} min"
        pipeline = cases.get("pipeline", [])
        decode = cases.get("decode", [])
        floor_rtf = _median(decode, "seconds") / duration_s if decode else None
        if pipeline:
            rtf = summarise([r["seconds"] / duration_s for r in pipeline])
            device = pipeline[0]["device"]
            rows.append(
                Row(
                    case=f"pipeline end to end, {size}",
                    metric="real-time factor",
                    value=round(rtf.median, 4),
                    spread=rtf.spread(),
                    baseline="decoding alone" if floor_rtf is not None else "",
                    baseline_value=None if floor_rtf is None else round(floor_rtf, 4),
                    note=f"device {device}, transcript {pipeline[0]['engine']}",
                )
            )
            for stage in pipeline[0]["stage_s"]:
                stage_rtf = summarise([r["stage_s"][stage] / duration_s for r in pipeline])
                rows.append(
                    Row(
                        case=f"stage {stage}, {size}",
                        metric="real-time factor",
                        value=round(stage_rtf.median, 4),
                        spread=stage_rtf.spread(),
                    )
                )
            rss = summarise([r["peak_rss_mib"] for r in pipeline])
            rows.append(
                Row(
                    case=f"pipeline peak RSS, {size}",
                    metric="MiB",
                    value=round(rss.median, 1),
                    spread=rss.spread(),
                    baseline="decoding alone" if decode else "",
                    baseline_value=round(_median(decode, "peak_rss_mib"), 1) if decode else None,
                    note=f"allocator {pipeline[0].get('allocator', 'system')}",
                )
            )
            system = cases.get(SYSTEM_MALLOC, [])
            if system:
                rows.append(
                    Row(
                        case=f"pipeline peak RSS, {size}",
                        metric="MiB",
                        value=round(rss.median, 1),
                        spread=rss.spread(),
                        baseline="glibc malloc (MOODLINE_ALLOCATOR=system)",
                        baseline_value=round(_median(system, "peak_rss_mib"), 1),
                    )
                )
        naive = cases.get("naive-face", [])
        if pipeline and naive:
            frames = _median(decode, "frames") if decode else duration_s * pipeline[0]["sample_fps"]
            face_fps = summarise([frames / r["stage_s"]["face"] for r in pipeline])
            naive_fps = summarise([r["frames"] / r["seconds"] for r in naive])
            rows.append(
                Row(
                    case=f"face stage, {size}",
                    metric="analysed frames/s",
                    value=round(face_fps.median, 2),
                    spread=face_fps.spread(),
                    baseline="naive per-frame loop",
                    baseline_value=round(naive_fps.median, 2),
                    note=f"{pipeline[0]['sample_fps']:g} frames analysed per second of video",
                )
            )
        plain = cases.get("whisper-plain", [])
        if pipeline and plain:
            stage = summarise([r["stage_s"]["transcript"] / duration_s for r in pipeline])
            rows.append(
                Row(
                    case=f"transcript stage, {size}",
                    metric="real-time factor",
                    value=round(stage.median, 4),
                    spread=stage.spread(),
                    baseline="openai-whisper transcribe",
                    baseline_value=round(_median(plain, "seconds") / duration_s, 4),
                )
            )
    rows.extend(_growth_rows(runs))
    return rows


def _growth_rows(runs: dict[float, dict[str, list[dict[str, Any]]]]) -> list[Row]:
    sizes = sorted(m for m in runs if runs[m].get("pipeline"))
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    span = f"{small:g}→{large:g} min"
    rows = []
    for case in ("pipeline", "decode"):
        if not (runs[small].get(case) and runs[large].get(case)):
            continue
        per_minute = (
            _median(runs[large][case], "seconds") - _median(runs[small][case], "seconds")
        ) / (large - small)
        rows.append(
            Row(
                case=f"{case}, added cost per input minute, {span}",
                metric="seconds/minute",
                value=round(per_minute, 2),
                baseline=f"{case} seconds per minute at {small:g} min",
                baseline_value=round(_median(runs[small][case], "seconds") / small, 2),
                note="ratio ≈ 1 or below: linear (fixed start-up cost amortised)",
            )
        )
    for case in ("pipeline", SYSTEM_MALLOC):
        if runs[small].get(case) and runs[large].get(case):
            rows.extend(
                _memory_growth_rows(case, runs[small][case], runs[large][case], small, large)
            )
    return rows


def _memory_growth_rows(
    case: str,
    small_runs: Sequence[dict[str, Any]],
    large_runs: Sequence[dict[str, Any]],
    small: float,
    large: float,
) -> list[Row]:
    span = f"{small:g}→{large:g} min"
    small_rss = _median(small_runs, "peak_rss_mib")
    large_rss = _median(large_runs, "peak_rss_mib")
    per_hour = (large_rss - small_rss) / (large - small) * 60
    return [
        Row(
            case=f"{case} peak RSS growth, {span}",
            metric="MiB",
            value=round(large_rss, 1),
            baseline=f"peak RSS at {small:g} min",
            baseline_value=round(small_rss, 1),
            note="ratio ≈ 1: flat memory",
        ),
        Row(
            case=f"{case} peak RSS growth per hour of recording, {span}",
            metric="MiB/hour",
            value=round(per_hour, 1),
            note=(
                f"at that rate a {LONGEST_HOURS:g}-hour recording peaks near "
                f"{large_rss + per_hour * (LONGEST_HOURS - large / 60):.0f} MiB "
                f"(target {TARGET_LONGEST_PEAK_MIB} MiB)"
            ),
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_scaling")
    parser.add_argument("--quick", action="store_true", help="1 and 10 minutes, one repeat")
    parser.add_argument("--minutes", type=float, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument(
        "--naive-seconds",
        type=float,
        default=None,
        help="video seconds the naive face loop runs on (default 120; --quick 30)",
    )
    parser.add_argument(
        "--tile-minutes",
        type=float,
        default=None,
        help="make longer recordings by repeating one of this length (a 4-hour one in seconds)",
    )
    parser.add_argument(
        "--result",
        default="pipeline_scaling",
        help="name of the results file (benchmarks/results/NAME.json)",
    )
    args = parser.parse_args(argv)
    options = ScalingOptions(
        minutes=tuple(args.minutes or (QUICK_MINUTES if args.quick else FULL_MINUTES)),
        repeats=args.repeats or (1 if args.quick else ScalingOptions.repeats),
        cases=tuple(args.cases),
        naive_seconds=args.naive_seconds or (30.0 if args.quick else ScalingOptions.naive_seconds),
        tile_minutes=args.tile_minutes,
    )
    rows, _details = measure(
        options, on_size_done=lambda rows, details: write_result(args.result, rows, details)
    )
    print_rows("Pipeline scaling (same-run baselines)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
