"""`python -m benchmarks` (`make bench`): run every benchmark, then summarise their results.

Each module `benchmarks/<name>.py` (other than the helpers) runs in its own process, so one
benchmark's memory or threads never colour another's, with `--quick` passed on when given.
A module reports by writing `results/<name>.json` (benchmarks.common.write_result); one that
only prints a JSON line on stdout gets that line saved for it. The runner then writes
`results/summary.json` and `results/README.md`, one Markdown table of every row.

    python -m benchmarks                 # everything, full sizes (the 60-minute recording: long)
    python -m benchmarks --quick         # smaller sizes and fewer repeats
    python -m benchmarks --only web      # some benchmarks only (repeatable)
    python -m benchmarks --summary-only  # rebuild summary.json and README.md from the results
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS_DIR_ENV,
    ChildRun,
    markdown_table,
    python_child,
    results_dir,
    run_child,
)

PACKAGE_DIR = Path(__file__).resolve().parent
NOT_BENCHMARKS = frozenset({"__init__", "__main__", "common"})
SUMMARY_NAMES = frozenset({"summary"})
BENCHMARK_TIMEOUT_S = 24 * 60 * 60  # full runs on hour-long recordings take hours on 2 cores


def discover() -> list[str]:
    """Every benchmark module in the package, by name, in a stable order."""
    return sorted(
        path.stem
        for path in PACKAGE_DIR.glob("*.py")
        if path.stem not in NOT_BENCHMARKS and not path.stem.startswith("_")
    )


def run_benchmark(name: str, *, quick: bool, folder: Path) -> dict[str, Any]:
    """Run one benchmark module; returns its outcome for the summary."""
    print(f"\n=== {name} ===", flush=True)
    argv = python_child(f"benchmarks.{name}", *(["--quick"] if quick else []))
    started_at = time.time()
    try:
        child = run_child(argv, env={RESULTS_DIR_ENV: str(folder)}, timeout_s=BENCHMARK_TIMEOUT_S)
    except TimeoutError as error:
        return {"benchmark": name, "ok": False, "error": str(error)}
    sys.stdout.write(child.stdout)
    if child.returncode != 0:
        sys.stdout.write(child.stderr[-4000:])
        return {"benchmark": name, "ok": False, "error": f"exit status {child.returncode}"}
    _save_printed_result(name, child, folder, started_at)
    return {"benchmark": name, "ok": True, "seconds": round(child.seconds, 1)}


def _save_printed_result(name: str, child: ChildRun, folder: Path, started_at: float) -> None:
    path = folder / f"{name}.json"
    if path.exists() and path.stat().st_mtime >= started_at:
        return  # the benchmark wrote its own result
    try:
        printed = child.last_json()
    except ValueError:
        return
    path.write_text(json.dumps({"benchmark": name, "details": printed}, indent=1))


def flatten(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows of one result document: its `rows`, or else its top-level numbers."""
    name = document.get("benchmark", "?")
    if isinstance(document.get("rows"), list):
        return [{"benchmark": name, **row} for row in document["rows"]]
    details = document.get("details", document)
    return [
        {"benchmark": name, "case": key, "metric": "", "value": value}
        for key, value in details.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def summarise_results(folder: Path, outcomes: Sequence[dict[str, Any]]) -> Path:
    """Write summary.json and README.md from every result JSON in `folder`."""
    documents = []
    for path in sorted(folder.glob("*.json")):
        if path.stem in SUMMARY_NAMES:
            continue
        try:
            documents.append(json.loads(path.read_text()))
        except json.JSONDecodeError:
            documents.append({"benchmark": path.stem, "error": "unreadable result"})
    rows = [row for document in documents for row in flatten(document)]
    summary = {
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "runs": list(outcomes),
        "rows": rows,
        "results": {d.get("benchmark", "?"): d for d in documents},
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    machines = {
        d["benchmark"]: d["machine"] for d in documents if isinstance(d.get("machine"), dict)
    }
    lines = [
        "# Benchmark results",
        "",
        f"Written {summary['written_at']} by `python -m benchmarks` (`make bench`).",
        "Values are medians of repeats; `spread` gives the interquartile range and the repeat",
        "count; `ratio` is value / baseline, both measured in the same run on the same machine.",
        "",
        markdown_table(
            rows,
            (
                "benchmark",
                "case",
                "metric",
                "value",
                "spread",
                "baseline",
                "baseline_value",
                "ratio",
            ),
        ),
        "",
        "## Runs",
        "",
        markdown_table(outcomes, ("benchmark", "ok", "seconds", "error")),
        "",
        "## Machines",
        "",
    ]
    for name, info in sorted(machines.items()):
        described = ", ".join(f"{k}={v}" for k, v in info.items())
        lines.append(f"- {name}: {described}")
    readme = folder / "README.md"
    readme.write_text("\n".join(lines) + "\n")
    return readme


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    parser.add_argument(
        "--summary-only", action="store_true", help="rebuild the summary from existing results"
    )
    args = parser.parse_args(argv)
    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.only) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {names}")
    chosen = [n for n in names if not args.only or n in args.only]
    folder = results_dir()
    if args.summary_only:
        chosen = []
    outcomes = [run_benchmark(name, quick=args.quick, folder=folder) for name in chosen]
    readme = summarise_results(folder, outcomes)
    print(f"\nwrote {readme} and {folder / 'summary.json'}")
    return 0 if all(o["ok"] for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
