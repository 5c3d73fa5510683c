"""The one loop that runs the analysis stages, for the CLI, the worker and the benchmarks alike.

`run_pipeline` owns order, dependencies, fingerprints, reuse, progress and cancellation. Where
outputs are kept and who hears of progress are the caller's, through two small protocols:

- a `StageStore` loads and saves a stage's output by stage name and fingerprint: a folder of
  JSON files for the CLI (`FileStageStore`), `StageResult` rows for the worker
  (`clinic.worker`), memory for the benchmarks (`MemoryStageStore`);
- a `Reporter` hears progress and answers whether to stop: a callback for the CLI, the job
  row (cancelled? taken over?) for the worker.

Each stage's fingerprint covers the input file, the options and model digests that stage
depends on, its output's version and the fingerprints of the stages it reads. A rerun (a
restarted job) reuses every stage whose saved fingerprint still matches and redoes only what
is missing or outdated — so changing a role, say, reruns fusion alone, and changing a model
reruns exactly the stages downstream of it. A saved output that no longer decodes (an older
shape) is recomputed, never half-read.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from analysis.errors import Cancelled, ErrorCode, MediaError
from analysis.pipeline_options import PipelineOptions
from analysis.stage_outputs import Json, OutputVersionError, StageOutput, TimelineOutput
from analysis.stages import STAGE_NAMES, STAGES, Stage, StageContext, StageInputs
from analysis.threads import (
    ThreadShare,
    follow_thread_share,
    sharing_threads,
    stages_side_by_side,
)

__all__ = [
    "STAGES",
    "STAGE_NAMES",
    "CallbackReporter",
    "FileStageStore",
    "MemoryStageStore",
    "PipelineOptions",
    "PipelineRun",
    "Reporter",
    "StageStore",
    "Stored",
    "analyse_file",
    "run_pipeline",
    "stage_fingerprints",
]

log = logging.getLogger(__name__)
WEIGHTS = {stage.name: stage.weight for stage in STAGES}

FINGERPRINT_SAMPLE_BYTES = 1 << 20  # head and tail of the file hashed (with its size)


# --- the two protocols -------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    output: Json | None  # a stage output's JSON; None when the stage had nothing to do


class StageStore(Protocol):
    def load(self, stage: str, fingerprint: str) -> Stored | None:
        """The output saved for `stage` under exactly this fingerprint, else None."""
        ...

    def save(self, stage: str, fingerprint: str, output: Json | None, duration_s: float) -> None:
        """Keep the output; it must be whole or absent after a crash, never half written."""
        ...


class Reporter(Protocol):
    def progress(self, stage: str, fraction: float) -> None:
        """The whole run's fraction done (0..1), while `stage` runs."""
        ...

    def should_stop(self, *, at_boundary: bool = False) -> bool:
        """True once the run must stop; asked between stages (`at_boundary`) and within them."""
        ...


class CallbackReporter:
    """A reporter from two optional callables: `progress(stage, fraction)` and `should_cancel()`."""

    def __init__(
        self,
        progress: Callable[[str, float], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self._progress = progress
        self._should_cancel = should_cancel

    def progress(self, stage: str, fraction: float) -> None:
        if self._progress is not None:
            self._progress(stage, fraction)

    def should_stop(self, *, at_boundary: bool = False) -> bool:
        return self._should_cancel is not None and self._should_cancel()


class FileStageStore:
    """`<workdir>/<stage>.json`, written atomically (temporary file, then rename)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)

    def load(self, stage: str, fingerprint: str) -> Stored | None:
        target = self.workdir / f"{stage}.json"
        try:
            saved = json.loads(target.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if not isinstance(saved, dict) or saved.get("fingerprint") != fingerprint:
            return None
        return Stored(saved.get("output"))

    def save(self, stage: str, fingerprint: str, output: Json | None, duration_s: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        partial = self.workdir / f".{stage}.json.partial"
        partial.write_text(
            json.dumps({"stage": stage, "fingerprint": fingerprint, "output": output})
        )
        partial.replace(self.workdir / f"{stage}.json")


@dataclass
class MemoryStageStore:
    """Outputs kept in this process only: every run starts from nothing unless reused."""

    saved: dict[str, tuple[str, Json | None]] = field(default_factory=dict)

    def load(self, stage: str, fingerprint: str) -> Stored | None:
        found = self.saved.get(stage)
        return Stored(found[1]) if found is not None and found[0] == fingerprint else None

    def save(self, stage: str, fingerprint: str, output: Json | None, duration_s: float) -> None:
        self.saved[stage] = (fingerprint, output)


# --- fingerprints ------------------------------------------------------------------------------


def input_fingerprint(path: Path) -> str:
    """Size plus the first and last MiB: cheap on a 2-hour file, changes when the file does."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_SAMPLE_BYTES))
        handle.seek(max(0, size - FINGERPRINT_SAMPLE_BYTES))
        digest.update(handle.read(FINGERPRINT_SAMPLE_BYTES))
    return digest.hexdigest()


def stage_fingerprints(path: Path, options: PipelineOptions) -> dict[str, str]:
    """The fingerprint each stage's output must carry to be reused, for every stage."""
    source = input_fingerprint(path)
    fingerprints: dict[str, str] = {}
    for stage in STAGES:
        payload = {
            "stage": stage.name,
            "version": stage.output.VERSION,
            "input": source,
            "options": stage.depends_on(options),
            "upstream": {u: fingerprints[u] for u in stage.reads},
        }
        fingerprints[stage.name] = hashlib.sha256(
            json.dumps(payload, sort_keys=True).encode()
        ).hexdigest()
    return fingerprints


# --- the loop ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRun:
    timeline: TimelineOutput
    outputs: StageInputs  # every stage's output, reused or computed
    seconds: dict[str, float]  # per stage; 0 where the saved output was reused

    @property
    def document(self) -> Json:
        return self.timeline.document


def _reuse(store: StageStore, stage: Stage, fingerprint: str) -> tuple[bool, StageOutput | None]:
    saved = store.load(stage.name, fingerprint)
    if saved is None:
        return False, None
    if saved.output is None:
        return True, None
    try:
        return True, stage.output.from_json(saved.output)
    except (OutputVersionError, KeyError, TypeError, ValueError) as error:
        log.info("stage %s: saved output not readable (%s); recomputing", stage.name, error)
        return False, None


def _within_stage(
    report: Reporter, stage: str, base: float, share: float
) -> Callable[[float], None]:
    """A stage's own 0..1 progress as the whole run's fraction."""

    def progress(fraction: float) -> None:
        report.progress(stage, min(1.0, base + share * fraction))

    return progress


def run_pipeline(
    path: Path,
    *,
    options: PipelineOptions,
    store: StageStore,
    reporter: Reporter | None = None,
) -> PipelineRun:
    """Run (or resume) every stage; raises Cancelled when the reporter says stop.

    Stages that do not read each other's output run side by side when the thread budget
    allows (analysis/threads.py), each on its share of the threads; the reporter is only ever
    called from this thread.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(ErrorCode.NOT_MEDIA, f"no such file: {path}")
    run = _Run(path, options, store, reporter or CallbackReporter())
    width = stages_side_by_side()
    if width == 1:
        run.one_after_another()
    else:
        with sharing_threads(width) as share:
            run.side_by_side(width, share)
    inputs = run.inputs
    log.info("pipeline %s: stage seconds %s (0 = reused)", path.name, run.seconds)
    if inputs.fusion is None:
        raise RuntimeError("the fusion stage returned nothing")
    return PipelineRun(timeline=inputs.fusion, outputs=inputs, seconds=dict(run.seconds))


STAGE_LABEL_SEPARATOR = " + "


def stage_label(running: list[Stage]) -> str:
    """What the reporter is told runs: one stage's name, or those running side by side, in
    pipeline order ("face + transcript")."""
    return STAGE_LABEL_SEPARATOR.join(s.name for s in sorted(running, key=STAGES.index))


def stages_in_label(label: str) -> list[str]:
    """The stage names in a label the reporter was given."""
    return label.split(STAGE_LABEL_SEPARATOR)


# How often the loop asks the reporter whether to stop, and tells it the progress, while
# stages run side by side (the worker's reporter asks the database at most twice a second).
POLL_S = 0.25


def _beside(
    running: dict[Future[tuple[StageOutput | None, float]], Stage],
    preparing: dict[Future[None], Stage],
    starting: Sequence[Stage] = (),
) -> int:
    """How many stages share the threads: those running or starting, and the preparation of
    any other. A stage's own head start is not another stage beside it: a stage that becomes
    ready while its models still load would otherwise start on one thread of two, and keep it."""
    stages = {stage.name for stage in [*running.values(), *starting]}
    return len(stages) + sum(stage.name not in stages for stage in preparing.values())


class _Run:
    """One run's state: the outputs so far, each stage's seconds, and the progress. The store
    and the reporter are only used from the thread that called `run_pipeline` (the worker's
    talk to the database, whose connections belong to a thread); the stages' own threads only
    run stages."""

    def __init__(
        self, path: Path, options: PipelineOptions, store: StageStore, report: Reporter
    ) -> None:
        self.path, self.options, self.store, self.report = path, options, store, report
        self.fingerprints = stage_fingerprints(path, options)
        self.total = sum(stage.weight for stage in STAGES)
        self.inputs = StageInputs()
        self.seconds: dict[str, float] = {}  # of the stages finished; 0 when reused
        self.done = 0.0  # weight of the stages finished
        self.fractions: dict[str, float] = {}  # each running stage's own 0..1
        self.lock = threading.Lock()  # over `fractions`, which the stages' threads write
        self.stop = threading.Event()  # set by the loop, read by the stages' threads
        self.prepared: set[str] = set()  # stages whose models were loaded ahead

    def one_after_another(self) -> None:
        for stage in STAGES:
            if self.report.should_stop(at_boundary=True):
                raise Cancelled()
            if self._reused(stage):
                continue
            progress = _within_stage(
                self.report, stage.name, self.done / self.total, stage.weight / self.total
            )
            output, seconds = self._compute(stage, progress, self.report.should_stop)
            self._keep(stage, output, seconds)

    def side_by_side(self, width: int, share: ThreadShare) -> None:
        pending = list(STAGES)
        running: dict[Future[tuple[StageOutput | None, float]], Stage] = {}
        preparing: dict[Future[None], Stage] = {}
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="stage") as pool:
            try:
                while pending or running:
                    started = False
                    ready = self._ready(pending, len(running) + len(preparing), width)
                    # The share is set before a stage starts, or it may read the share it had
                    # before (a stage starting alone would take one thread of two).
                    share.running(_beside(running, preparing, ready))
                    for stage in ready:
                        if self.report.should_stop(at_boundary=True):
                            raise Cancelled()
                        pending.remove(stage)
                        if self._reused(stage):
                            continue
                        self._note(stage.name, 0.0)
                        started = True
                        context = contextvars.copy_context()  # carries the share of threads
                        running[
                            pool.submit(
                                context.run,
                                self._compute,
                                stage,
                                functools.partial(self._note, stage.name),
                                self.stop.is_set,
                            )
                        ] = stage
                    if started:
                        # said as soon as it starts: a stage shorter than a poll is still said
                        self._report_running(list(running.values()))
                    if len(running) + len(preparing) < width:
                        self._prepare_next(pool, pending, preparing)
                    # A stage left running alone takes the threads the others freed.
                    share.running(_beside(running, preparing))
                    if not running and not preparing:
                        continue
                    busy: list[Future[Any]] = [*running, *preparing]
                    finished, _ = wait(busy, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for future in finished:
                        if future in preparing:
                            self._prepared(preparing.pop(future), future)
                        else:
                            self._keep(running.pop(future), *future.result())
                    if self.report.should_stop():
                        raise Cancelled()
                    self._report_running(list(running.values()))
            except BaseException:
                self.stop.set()  # the other stages stop at their next check; their end is moot
                raise

    def _prepare_next(
        self, pool: ThreadPoolExecutor, pending: list[Stage], preparing: dict[Future[None], Stage]
    ) -> None:
        """In a thread no stage can use yet, load the models of a stage that runs next (e.g.
        the text stage's sentence encoder while the voice stage runs): once per stage. Only
        one step ahead, a stage none of whose inputs still waits, so that a model is not held
        beside the memory of stages before the one it follows (the face stage's)."""
        waiting = {stage.name for stage in pending}
        for stage in pending:
            if any(name in waiting for name in stage.reads):
                continue
            if stage.prepare is not None and stage.name not in self.prepared:
                self.prepared.add(stage.name)
                context = contextvars.copy_context()
                preparing[pool.submit(context.run, stage.prepare, self.options)] = stage
                return

    def _prepared(self, stage: Stage, future: Future[None]) -> None:
        error = future.exception()
        if error is not None:
            # Only a head start: the stage loads its models itself and reports any failure.
            log.warning("preparing the %s stage failed: %r", stage.name, error)

    def _ready(self, pending: list[Stage], running: int, width: int) -> list[Stage]:
        """Pending stages whose inputs are all there, while there is room; in pipeline order."""
        ready: list[Stage] = []
        for stage in pending:
            if running + len(ready) >= width:
                break
            if all(name in self.seconds for name in stage.reads):
                ready.append(stage)
        return ready

    def _reused(self, stage: Stage) -> bool:
        reused, output = _reuse(self.store, stage, self.fingerprints[stage.name])
        if reused:
            self._finish(stage, output, 0.0)
        return reused

    def _compute(
        self, stage: Stage, progress: Callable[[float], None], should_stop: Callable[[], bool]
    ) -> tuple[StageOutput | None, float]:
        """Run `stage` on the outputs it reads (in whichever thread): its output and seconds."""
        started = time.perf_counter()
        follow_thread_share()
        progress(0.0)
        output = stage.run(
            StageContext(
                path=self.path,
                options=self.options,
                inputs=self.inputs,
                progress=progress,
                should_stop=should_stop,
            )
        )
        return output, round(time.perf_counter() - started, 3)

    def _keep(self, stage: Stage, output: StageOutput | None, seconds: float) -> None:
        encoded = None if output is None else output.to_json()
        self.store.save(stage.name, self.fingerprints[stage.name], encoded, seconds)
        # Read back as a resumed run would, so a fresh and a reused output are the same.
        self._finish(stage, None if encoded is None else stage.output.from_json(encoded), seconds)

    def _finish(self, stage: Stage, output: StageOutput | None, seconds: float) -> None:
        self.inputs = self.inputs.with_output(stage.name, output)
        self.seconds[stage.name] = seconds
        with self.lock:
            self.fractions.pop(stage.name, None)
            # What the stages still running have done counts too, or the figure steps back.
            partial = sum(WEIGHTS[name] * fraction for name, fraction in self.fractions.items())
        self.done += stage.weight
        self.report.progress(stage.name, min(1.0, (self.done + partial) / self.total))

    def _note(self, stage: str, fraction: float) -> None:
        """A stage's own progress, from its thread; the loop tells the reporter."""
        with self.lock:
            self.fractions[stage] = max(self.fractions.get(stage, 0.0), min(1.0, fraction))

    def _report_running(self, running: list[Stage]) -> None:
        if not running:
            return
        with self.lock:
            partial = sum(s.weight * self.fractions.get(s.name, 0.0) for s in running)
        self.report.progress(stage_label(running), min(1.0, (self.done + partial) / self.total))


def analyse_file(
    path: Path,
    *,
    options: PipelineOptions,
    workdir: Path,
    progress: Callable[[str, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Json:
    """The command line's run: stage outputs in `workdir`, the timeline document returned."""
    run = run_pipeline(
        path,
        options=options,
        store=FileStageStore(workdir),
        reporter=CallbackReporter(progress, should_cancel),
    )
    return run.document
