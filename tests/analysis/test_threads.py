"""The thread budget: each analysis sizes its libraries' pools from its share of the cores."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from analysis.threads import ThreadBudget, apply_thread_budget, budget_from


@pytest.mark.parametrize(
    ("environ", "cores", "threads"),
    [
        ({}, 2, 2),  # one analysis: every core
        ({"MOODLINE_CONCURRENT_ANALYSES": "2"}, 2, 1),  # one per core, as production runs
        ({"MOODLINE_CONCURRENT_ANALYSES": "3"}, 8, 2),
        ({"MOODLINE_CONCURRENT_ANALYSES": "4"}, 2, 1),  # never fewer than one
        ({"MOODLINE_ANALYSIS_THREADS": "3", "MOODLINE_CONCURRENT_ANALYSES": "2"}, 2, 3),
        ({"MOODLINE_ANALYSIS_THREADS": "0"}, 16, 0),  # each library decides (the old way)
    ],
)
def test_the_budget_is_the_cores_shared_by_the_analyses_running_at_once(
    environ: dict[str, str], cores: int, threads: int
) -> None:
    assert budget_from(environ, cores).threads == threads


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOODLINE_CONCURRENT_ANALYSES", "0"),
        ("MOODLINE_CONCURRENT_ANALYSES", "two"),
        ("MOODLINE_ANALYSIS_THREADS", "-1"),
    ],
)
def test_a_budget_setting_that_is_not_a_count_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a whole number"):
        budget_from({name: value}, 2)


def test_applying_the_budget_sizes_torch_and_the_openmp_runtimes() -> None:
    # A fresh interpreter, as a worker process starts: torch's pools are not running yet.
    probe = (
        "import os; from analysis.threads import apply_thread_budget, thread_budget; "
        "b = apply_thread_budget(); import torch; "
        "print(b.threads, torch.get_num_threads(), torch.get_num_interop_threads(), "
        "os.environ['OMP_NUM_THREADS'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"MOODLINE_CONCURRENT_ANALYSES": "2", "MOODLINE_ANALYSIS_THREADS": "1", "PATH": ""},
    )
    assert result.stdout.split() == ["1", "1", "1", "1"]


def test_no_budget_leaves_torch_as_it_was() -> None:
    before = torch.get_num_threads()
    apply_thread_budget(ThreadBudget(cores=2, concurrent=1, threads=0))
    assert torch.get_num_threads() == before
