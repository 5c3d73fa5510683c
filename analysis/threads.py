"""How many threads one analysis may use: its share of the cores, set once per process.

Production runs one analysis per core (docs/operations.md), but each library sizes its own
pool from the whole machine when left alone: torch's intra-op pool, OpenMP and MKL under it,
CTranslate2 (faster-whisper), ONNX Runtime and FFmpeg's decoder threads. Two analyses on two
cores then run eight busy threads that preempt each other; measured, the batched face stage
analysed fewer frames per second than a per-frame loop. The budget is

    threads = cores available to this process ÷ analyses running at once on them

(at least one), from `MOODLINE_CONCURRENT_ANALYSES` (default 1) or an explicit
`MOODLINE_ANALYSIS_THREADS`; `MOODLINE_ANALYSIS_THREADS=0` leaves every library to size
itself, as before the budget (the throughput benchmark's baseline). `thread_budget()` reads
it; `apply_thread_budget()` sets the libraries that are set per process, once, at worker or
command start. Stages that take a
thread count (the transcript's CTranslate2 model, the decoder) ask `stage_threads()`.

Two stages that do not read each other's output (the face stage, and the ingest and transcript
stages) run side by side when the budget has two threads or more, each on half of it
(`stages_side_by_side`, `sharing_threads`): neither the face stage nor the transcript ran much
faster on two threads than on one, so one analysis on two cores used them poorly in turn.
`MOODLINE_STAGES_SIDE_BY_SIDE=0` runs them one after the other.

The share follows what runs: when one stage is left running alone (the face stage after the
transcript, say), the run widens the share to the whole budget, and the stage takes it at its
next batch (`follow_thread_share`, and ONNX Runtime sessions chosen per call); when a second
stage starts beside it, the share narrows again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

CONCURRENT_VARIABLE = "MOODLINE_CONCURRENT_ANALYSES"
THREADS_VARIABLE = "MOODLINE_ANALYSIS_THREADS"
SIDE_BY_SIDE_VARIABLE = "MOODLINE_STAGES_SIDE_BY_SIDE"
# Environment variables the OpenMP/BLAS runtimes read when they start (before torch or
# numpy load them, which is why the worker sets them at its very start).
RUNTIME_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class ThreadBudget:
    cores: int  # cores this process may run on (CPU affinity, or the container's share)
    concurrent: int  # analyses sharing them
    threads: int  # what each analysis may use; 0: each library decides (no budget)

    def describe(self) -> str:
        if self.threads == 0:
            return "no thread budget: each library sizes its own pools"
        return (
            f"{self.threads} thread(s) per analysis "
            f"({self.cores} core(s), {self.concurrent} analysis/analyses at once)"
        )


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def budget_from(environ: dict[str, str] | os._Environ[str], cores: int) -> ThreadBudget:
    concurrent = _count(environ.get(CONCURRENT_VARIABLE), CONCURRENT_VARIABLE, least=1) or 1
    explicit = _count(environ.get(THREADS_VARIABLE), THREADS_VARIABLE, least=0)
    threads = explicit if explicit is not None else max(1, cores // concurrent)
    return ThreadBudget(cores=cores, concurrent=concurrent, threads=threads)


@cache
def thread_budget() -> ThreadBudget:
    return budget_from(os.environ, available_cores())


def _count(value: str | None, name: str, *, least: int) -> int | None:
    if value is None or value.strip() == "":
        return None
    message = f"{name} must be a whole number of at least {least}, not {value!r}."
    try:
        number = int(value)
    except ValueError:
        raise ValueError(message) from None
    if number < least:
        raise ValueError(message)
    return number


def export_runtime_variables(budget: ThreadBudget | None = None) -> None:
    """Tell OpenMP, MKL and OpenBLAS the budget, for runtimes not loaded yet."""
    budget = budget or thread_budget()
    if budget.threads == 0:
        return
    for name in RUNTIME_VARIABLES:
        os.environ.setdefault(name, str(budget.threads))


def apply_thread_budget(budget: ThreadBudget | None = None) -> ThreadBudget:
    """Size torch's pools (and, through the environment, OpenMP's) to the budget."""
    budget = budget or thread_budget()
    if budget.threads == 0:
        return budget
    export_runtime_variables(budget)
    import torch

    torch.set_num_threads(budget.threads)
    # One inter-op thread: the stages run their operators one after another. Refused once
    # parallel work has started in this process, which then keeps its pool.
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(1)
    return budget


class ThreadShare:
    """Each running stage's share of the budget, while stages share it. The run that shares it
    changes it as stages start and finish; the stages read it between their batches."""

    def __init__(self, budget: int, stages: int) -> None:
        self.budget = budget
        self.threads = 1
        self.running(stages)

    def running(self, stages: int) -> None:
        """`stages` stages run now: each may use budget ÷ stages threads (at least one)."""
        # A single int written whole: the stages' threads read it without a lock.
        self.threads = max(1, self.budget // max(1, stages))


# The share of the stage running in this context, while stages share the budget.
_shared_threads: ContextVar[ThreadShare | None] = ContextVar("shared_threads", default=None)


def stage_threads() -> int:
    """Threads the running stage may give a library: its share of the budget while stages run
    side by side, else the whole budget (0: no budget, the library decides)."""
    shared = _shared_threads.get()
    return thread_budget().threads if shared is None else shared.threads


def follow_thread_share() -> None:
    """Size torch's pool for this thread to the running stage's share as it is now. Called as
    a stage starts and between its batches: torch's OpenMP pool is sized per calling thread, so
    only the stage's own thread can widen or narrow it."""
    shared = _shared_threads.get()
    if shared is None:
        return
    import torch

    if torch.get_num_threads() != shared.threads:
        torch.set_num_threads(shared.threads)


def stages_side_by_side(budget: ThreadBudget | None = None) -> int:
    """How many independent stages may run at once: two when the budget has two threads or
    more (unless turned off), else one."""
    budget = budget or thread_budget()
    if budget.threads < 2:
        return 1
    if os.environ.get(SIDE_BY_SIDE_VARIABLE, "1").strip().lower() in ("0", "false", "no", "off"):
        return 1
    return 2


@contextlib.contextmanager
def sharing_threads(stages: int, budget: ThreadBudget | None = None) -> Iterator[ThreadShare]:
    """Split the budget between `stages` stages running at once: `stage_threads()` answers the
    share in this context (and in contexts copied from it), and torch's pool is sized to it for
    the duration. Yields the share, for the run to change as stages start and finish."""
    budget = budget or thread_budget()
    share = ThreadShare(budget.threads, stages)
    token = _shared_threads.set(share)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(share.threads)
    try:
        yield share
    finally:
        torch.set_num_threads(before)
        _shared_threads.reset(token)
