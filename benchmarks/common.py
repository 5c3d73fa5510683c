"""Shared benchmark helpers: repeats, robust summaries, child-process peak memory, results.

The machines these run on are shared and noisy, so every figure is a median of repeats with its
spread (interquartile range and min/max), and every benchmark measures its baseline in the same
run so that the ratio, not the absolute time, carries the claim.

A benchmark module writes one JSON document to `benchmarks/results/<name>.json` with
`write_result`; `python -m benchmarks` runs every module and builds the summary table from them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR_ENV = "MOODLINE_BENCH_RESULTS"  # the runner points every module at one folder
DEFAULT_RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
KIB_PER_MIB = 1024
BYTES_PER_MIB = 1024 * 1024


@dataclass(frozen=True)
class Summary:
    """A robust description of repeated measurements of one quantity."""

    median: float
    q1: float  # 25th percentile
    q3: float  # 75th percentile
    min: float
    max: float
    n: int  # number of repeats

    def to_dict(self, digits: int = 4) -> dict[str, float | int]:
        return {
            k: (round(v, digits) if isinstance(v, float) else v) for k, v in asdict(self).items()
        }

    def spread(self, digits: int = 3) -> str:
        """`IQR 1.2–1.3, min 1.1, max 1.6, n=5`: the spread column of every table."""
        if self.n == 1:
            return "n=1"
        return (
            f"IQR {self.q1:.{digits}g}–{self.q3:.{digits}g}, "
            f"min {self.min:.{digits}g}, max {self.max:.{digits}g}, n={self.n}"
        )


def summarise(samples: Sequence[float]) -> Summary:
    """Median, quartiles and extremes of `samples` (at least one)."""
    if not samples:
        raise ValueError("nothing to summarise: no samples")
    ordered = sorted(float(s) for s in samples)
    if len(ordered) == 1:
        q1 = q3 = ordered[0]
    else:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return Summary(statistics.median(ordered), q1, q3, ordered[0], ordered[-1], len(ordered))


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1) by linear interpolation between the closest ranks."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def repeat(action: Callable[[], object], times: int, *, warmup: int = 0) -> list[float]:
    """Wall seconds of `times` calls of `action`, after `warmup` untimed calls."""
    for _ in range(warmup):
        action()
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def ratio(value: float, baseline: float) -> float | None:
    """`value / baseline`, or None when the baseline is zero (nothing to compare against)."""
    return round(value / baseline, 3) if baseline else None


@dataclass(frozen=True)
class ChildRun:
    """One child process: its wall time, its own peak resident memory and its output."""

    seconds: float
    peak_rss_mib: float  # the child's own maximum resident set size, MiB
    returncode: int
    stdout: str
    stderr: str

    def last_json(self) -> dict[str, Any]:
        """The last line of stdout that parses as a JSON object (how children report)."""
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    parsed = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(parsed, dict):
                    return parsed
        raise ValueError(f"no JSON line in the child's output:\n{self.stdout[-2000:]}")


# Runs the measured command as its own child and writes that child's peak RSS (KiB) to a file.
# Needed because Linux carries a parent's memory high-water mark into a forked child's
# ru_maxrss across exec: measured straight from a benchmark holding torch in memory, even
# `true` would "peak" at hundreds of MiB. This small launcher's mark is what carries instead.
_PEAK_RSS_LAUNCHER = """
import os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_child(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    cwd: Path = REPO_ROOT,
) -> ChildRun:
    """Run `argv` to completion; its wall time, its own peak resident memory and its output."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        peak_file = Path(scratch) / "peak_rss_kib"
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", _PEAK_RSS_LAUNCHER, str(peak_file), *argv],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=err,
            start_new_session=True,  # a timeout stops the launcher and the measured child
        )
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            err.seek(0)
            raise TimeoutError(
                f"{' '.join(argv[:4])} ran past {timeout_s} s\n{err.read()[-2000:]}"
            ) from None
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        peak_kib = float(peak_file.read_text()) if peak_file.exists() else 0.0
    return ChildRun(
        seconds=seconds,
        peak_rss_mib=peak_kib / KIB_PER_MIB,  # ru_maxrss is in kibibytes on Linux
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
    )


def resident_mib(pid: int | str = "self") -> float:
    """A process's resident memory now (VmRSS), MiB; 0 when it reports none."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / KIB_PER_MIB
    return 0.0


def python_child(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def machine() -> dict[str, Any]:
    """Where a number was measured: enough to tell two machines apart."""
    import torch

    from analysis.device import torch_device

    device = torch_device()
    return {
        "host_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
        ),
        # a shared machine's load changes what absolute times mean; ratios hold up better
        "load_average_1_5_15": [round(load, 2) for load in os.getloadavg()],
    }


def django_bench_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Settings for a benchmark's own Django: its own database and Redis number (unless
    DATABASE_URL / REDIS_URL are set), production-like logging and no DEBUG query log."""
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL", database_url),
        "REDIS_URL": os.environ.get("REDIS_URL", redis_url),
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def ensure_database(url: str) -> None:
    """Create the Postgres database named by `url` if the server does not have it yet."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def results_dir() -> Path:
    folder = Path(os.environ.get(RESULTS_DIR_ENV) or DEFAULT_RESULTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class Row:
    """One line of a benchmark's table: a measured figure beside its same-run baseline."""

    case: str  # what was measured, e.g. "pipeline 10 min"
    metric: str  # e.g. "seconds", "real-time factor", "p95 ms"
    value: float
    spread: str = ""  # e.g. "IQR 1.1–1.3, n=3"
    baseline: str = ""  # the baseline's name, measured in the same run
    baseline_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.baseline_value is None else ratio(self.value, self.baseline_value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def write_result(name: str, rows: Sequence[Row], details: Mapping[str, Any]) -> Path:
    """Write `results/<name>.json`: the table rows, the raw details and where it was measured."""
    document = {
        "benchmark": name,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", f"benchmarks.{name}", *sys.argv[1:]]),
        "machine": machine(),
        "rows": [row.to_dict() for row in rows],
        "details": details,
    }
    path = results_dir() / f"{name}.json"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=1, default=str))
    partial.replace(path)
    return path


TABLE_COLUMNS = ("case", "metric", "value", "spread", "baseline", "baseline_value", "ratio")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = TABLE_COLUMNS
) -> str:
    """A GitHub Markdown table of `rows` (dicts) in `columns` order."""
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def print_rows(title: str, rows: Sequence[Row]) -> None:
    """Print a benchmark's own figures and its baselines' (to stdout, for a person watching)."""
    print(f"\n## {title}\n")
    print(markdown_table([row.to_dict() for row in rows]))
    sys.stdout.flush()
