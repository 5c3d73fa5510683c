"""Analysis processes run on jemalloc where it is installed, and on glibc's malloc when asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from analysis.allocator import (
    ALLOCATOR_VARIABLE,
    PRELOAD_VARIABLE,
    allocator_setting,
    analysis_environment,
    jemalloc_library,
)

needs_jemalloc = pytest.mark.skipif(
    jemalloc_library() is None,
    reason="jemalloc is not installed (Debian: libjemalloc2; scripts/system-deps.sh as root)",
)

REPORT_ALLOCATOR = "from analysis.allocator import allocator_in_use; print(allocator_in_use())"


def _allocator_of_child(environment: dict[str, str]) -> str:
    child = subprocess.run(
        [sys.executable, "-c", REPORT_ALLOCATOR],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return child.stdout.strip()


@needs_jemalloc
def test_a_process_started_for_analysis_runs_on_jemalloc() -> None:
    environment = analysis_environment({**_plain_environment(), "LD_PRELOAD": ""})

    assert _allocator_of_child(environment) == "jemalloc"
    # whatever else was preloaded stays, once
    kept = analysis_environment({**environment, PRELOAD_VARIABLE: "libm.so.6"})
    assert kept[PRELOAD_VARIABLE].split() == [jemalloc_library(), "libm.so.6"]
    assert analysis_environment(environment)[PRELOAD_VARIABLE] == environment[PRELOAD_VARIABLE]


@needs_jemalloc
def test_the_system_allocator_can_be_kept() -> None:
    on_jemalloc = analysis_environment(_plain_environment())
    asked = {**on_jemalloc, ALLOCATOR_VARIABLE: "system"}

    environment = analysis_environment(asked)

    assert "jemalloc" not in environment[PRELOAD_VARIABLE]
    assert _allocator_of_child(environment) == "system"


def test_an_unknown_allocator_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"MOODLINE_ALLOCATOR='tcmalloc'.*jemalloc, system"):
        allocator_setting({ALLOCATOR_VARIABLE: "tcmalloc"})


def _plain_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (ALLOCATOR_VARIABLE, PRELOAD_VARIABLE)}
