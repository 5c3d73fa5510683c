"""The benchmark helpers: robust summaries, a child's own peak memory, results and the table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import discover, flatten, summarise_results
from benchmarks.common import (
    Row,
    markdown_table,
    percentile,
    run_child,
    summarise,
    write_result,
)


def test_a_noisy_repeat_moves_the_spread_but_not_the_median() -> None:
    # Given five timings, one of them slowed by a neighbour's job
    summary = summarise([1.0, 1.1, 0.9, 1.0, 9.0])

    assert summary.median == 1.0
    assert summary.max == 9.0
    assert summary.q1 == 1.0
    assert summary.q3 == 1.1
    assert "n=5" in summary.spread()


def test_one_sample_says_so_instead_of_inventing_a_spread() -> None:
    assert summarise([2.5]).spread() == "n=1"
    with pytest.raises(ValueError, match="no samples"):
        summarise([])


def test_percentiles_interpolate_between_ranks() -> None:
    latencies_ms = [float(ms) for ms in range(1, 101)]  # 1..100 ms
    assert percentile(latencies_ms, 0.5) == pytest.approx(50.5)
    assert percentile(latencies_ms, 0.99) == pytest.approx(99.01)
    assert percentile([7.0], 0.95) == 7.0


def test_a_child_that_allocates_more_memory_reports_a_higher_peak() -> None:
    # Given a child that only starts and one that holds 300 MiB of real pages
    small = run_child([sys.executable, "-c", "print('{\"ok\": 1}')"])
    big = run_child(
        [sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"]
    )

    # Then each figure is that child's own peak, not the largest seen so far
    assert small.returncode == 0
    assert big.returncode == 0
    assert small.peak_rss_mib < 100
    assert big.peak_rss_mib > small.peak_rss_mib + 250
    assert small.last_json() == {"ok": 1}


def test_a_child_past_its_time_limit_is_stopped() -> None:
    with pytest.raises(TimeoutError):
        run_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)


def test_results_are_written_with_rows_ratios_and_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOODLINE_BENCH_RESULTS", str(tmp_path))
    rows = [Row(case="stage", metric="seconds", value=3.0, baseline="floor", baseline_value=1.5)]

    path = write_result("example", rows, {"repeats": 3})

    document = json.loads(path.read_text())
    assert document["rows"][0]["ratio"] == 2.0
    assert document["machine"]["device"] in ("cpu", "cuda")
    assert document["details"] == {"repeats": 3}


def test_the_summary_table_holds_every_benchmark_row_and_printed_only_results(
    tmp_path: Path,
) -> None:
    # Given one benchmark that wrote rows and one that only printed a JSON line
    (tmp_path / "web.json").write_text(
        json.dumps(
            {
                "benchmark": "web",
                "rows": [{"case": "session list", "metric": "p95 ms", "value": 120.0}],
                "machine": {"device": "cpu"},
            }
        )
    )
    (tmp_path / "old.json").write_text(json.dumps({"benchmark": "old", "details": {"fps": 31.5}}))

    readme = summarise_results(tmp_path, [{"benchmark": "web", "ok": True, "seconds": 1.0}])

    table = readme.read_text()
    assert "| web | session list | p95 ms | 120 |" in table
    assert "| old | fps |  | 31.5 |" in table
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {row["benchmark"] for row in summary["rows"]} == {"web", "old"}


def test_flatten_keeps_numbers_only() -> None:
    rows = flatten({"benchmark": "b", "details": {"fps": 2, "ok": True, "name": "x"}})
    assert rows == [{"benchmark": "b", "case": "fps", "metric": "", "value": 2}]


def test_the_runner_finds_the_benchmarks_but_not_the_helpers() -> None:
    names = discover()
    assert {"web", "pipeline_scaling"} <= set(names)
    assert not {"common", "__main__", "_load", "_recording", "_pipeline_child"} & set(names)


def test_markdown_table_escapes_pipes() -> None:
    table = markdown_table([{"case": "a|b", "value": 1.23456}], ("case", "value"))
    assert table.splitlines()[2] == "| a\\|b | 1.235 |"
