"""Whole-pipeline benchmark: real-time factor on a 720p/25 fps session, peak memory on a long one.

Each measurement runs in its own process (benchmarks/_pipeline_child.py) so its peak resident
memory is its own; the decoding floor (the same frames and audio decoded, no model) is measured
in the same run on the same file as the baseline.

- `rtf`: every stage on a `--minutes` session-like recording (720p, 25 fps, a face, two voices
  with pauses); target: real-time factor <= 0.10 on 2 CPU cores.
- `memory`: the same on a `--long-minutes` recording (default 120); target: peak <= 2 GiB.

    python -m benchmarks.pipeline                       # 5 min for speed, 120 min for memory
    python -m benchmarks.pipeline --quick               # 1 min for speed, 10 min for memory
    python -m benchmarks.pipeline --minutes 3 --long-minutes 30
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._recording import RecordingSpec, write_recording
from benchmarks.common import Row, print_rows, python_child, run_child, write_result

TARGET_RTF = 0.10
TARGET_PEAK_MIB = 2048
CHILD_TIMEOUT_S = 8 * 60 * 60


def run_case(case: str, recording: Path) -> dict[str, Any]:
    child = run_child(
        python_child("benchmarks._pipeline_child", case, str(recording)), timeout_s=CHILD_TIMEOUT_S
    )
    if child.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{child.stderr[-3000:]}")
    return {**child.last_json(), "peak_rss_mib": round(child.peak_rss_mib, 1)}


def measure(minutes: float, folder: Path) -> dict[str, Any]:
    recording = write_recording(folder / f"session-{minutes:g}min.mp4", RecordingSpec(minutes))
    return {
        "minutes": minutes,
        "file_mib": round(recording.stat().st_size / 2**20, 1),
        "pipeline": run_case("pipeline", recording),
        "decode": run_case("decode", recording),
    }


def rows_for(run: dict[str, Any], label: str) -> list[Row]:
    seconds_of_media = run["minutes"] * 60
    pipeline, decode = run["pipeline"], run["decode"]
    rows = [
        Row(
            case=f"pipeline {label}",
            metric="real-time factor",
            value=round(pipeline["seconds"] / seconds_of_media, 4),
            baseline="decoding alone",
            baseline_value=round(decode["seconds"] / seconds_of_media, 4),
            note=f"target <= {TARGET_RTF}",
        ),
        Row(
            case=f"pipeline {label}",
            metric="peak RSS MiB",
            value=pipeline["peak_rss_mib"],
            baseline="decoding alone",
            baseline_value=decode["peak_rss_mib"],
            note=f"target <= {TARGET_PEAK_MIB}",
        ),
    ]
    rows += [
        Row(
            case=f"stage {name} {label}",
            metric="real-time factor",
            value=round(seconds / seconds_of_media, 4),
        )
        for name, seconds in pipeline["stage_s"].items()
    ]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline")
    parser.add_argument("--minutes", type=float, default=5.0, help="recording for the speed figure")
    parser.add_argument("--long-minutes", type=float, default=120.0, help="for the memory figure")
    parser.add_argument("--quick", action="store_true", help="1 and 10 minutes")
    parser.add_argument("--skip-long", action="store_true", help="speed figure only")
    args = parser.parse_args(argv)
    minutes, long_minutes = (1.0, 10.0) if args.quick else (args.minutes, args.long_minutes)

    rows: list[Row] = []
    details: dict[str, Any] = {"target_rtf": TARGET_RTF, "target_peak_mib": TARGET_PEAK_MIB}
    with tempfile.TemporaryDirectory(prefix="moodline-bench-") as scratch:
        speed = measure(minutes, Path(scratch))
        rows += rows_for(speed, f"{minutes:g} min 720p")
        details["speed"] = speed
        path = write_result("pipeline", rows, details)  # kept even if the long run is stopped
        if not args.skip_long:
            memory = measure(long_minutes, Path(scratch))
            rows += rows_for(memory, f"{long_minutes:g} min 720p")
            details["memory"] = memory
            path = write_result("pipeline", rows, details)
    print_rows("Whole pipeline: real-time factor and peak memory", rows)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
