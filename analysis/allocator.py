"""The memory allocator an analysis process runs on.

An analysis allocates and frees many buffers of a few hundred KiB to a few MiB (decoded frames,
detector pyramids, Whisper's decoding buffers) from several threads. glibc's malloc keeps much
of what was freed and seldom returns it: on a 10-minute session the process peaked at
1,291-1,362 MiB, and `malloc_trim` after every face batch, or two arenas instead of sixteen,
gave next to none of it back. Sending buffers over 1 MiB to `mmap` did (1,063 MiB) but made
the whole run ~1.4x slower. jemalloc returns freed pages by itself (1,199 MiB; in alternating
runs two of three were within 2 % of glibc's time; docs/evaluation.md, "Pipeline memory"),
so analysis workers run on it where it is installed (Debian: `libjemalloc2`).

The allocator is chosen when a process starts (`LD_PRELOAD`), so it is set by whatever starts
the worker: `docker/entrypoint.sh`, `manage.py demo` and the benchmarks' children take their
environment from `analysis_environment`. `MOODLINE_ALLOCATOR=system` keeps glibc's malloc.
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

ALLOCATOR_VARIABLE = "MOODLINE_ALLOCATOR"
JEMALLOC = "jemalloc"
SYSTEM = "system"
CHOICES = (JEMALLOC, SYSTEM)
PRELOAD_VARIABLE = "LD_PRELOAD"


def allocator_setting(environ: Mapping[str, str] | None = None) -> str:
    """The allocator asked for: `jemalloc` (the default) or `system`."""
    environ = os.environ if environ is None else environ
    asked = environ.get(ALLOCATOR_VARIABLE, JEMALLOC).strip().lower() or JEMALLOC
    if asked not in CHOICES:
        raise ValueError(
            f"{ALLOCATOR_VARIABLE}={asked!r} is not an allocator Moodline knows: "
            f"use one of {', '.join(CHOICES)}"
        )
    return asked


@cache
def jemalloc_library() -> str | None:
    """The name the dynamic loader knows jemalloc by (`libjemalloc.so.2`), or None when it is
    not installed."""
    return ctypes.util.find_library(JEMALLOC)


def analysis_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) for a process that runs analyses: with
    jemalloc preloaded when it is asked for and installed, and without it when `system` is
    asked for (LD_PRELOAD otherwise as it was)."""
    environment = dict(os.environ if base is None else base)
    others = [
        entry
        for entry in environment.get(PRELOAD_VARIABLE, "").split()
        if JEMALLOC not in Path(entry).name
    ]
    library = jemalloc_library() if allocator_setting(environment) == JEMALLOC else None
    preload = " ".join([library, *others] if library else others)
    if preload or PRELOAD_VARIABLE in environment:
        environment[PRELOAD_VARIABLE] = preload
    return environment


def allocator_in_use() -> str:
    """Which allocator this process runs on, read from the libraries it has mapped."""
    try:
        mapped = Path("/proc/self/maps").read_text()
    except OSError:
        return SYSTEM
    return JEMALLOC if "libjemalloc" in mapped else SYSTEM
