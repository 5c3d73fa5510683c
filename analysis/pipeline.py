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

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from analysis.errors import Cancelled, ErrorCode, MediaError
from analysis.pipeline_options import PipelineOptions
from analysis.stage_outputs import Json, OutputVersionError, StageOutput, TimelineOutput
from analysis.stages import STAGE_NAMES, STAGES, Stage, StageContext, StageInputs

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
    """Run (or resume) every stage; raises Cancelled when the reporter says stop."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(ErrorCode.NOT_MEDIA, f"no such file: {path}")
    fingerprints = stage_fingerprints(path, options)
    report = reporter or CallbackReporter()
    total = sum(stage.weight for stage in STAGES)
    done = 0.0
    inputs = StageInputs()
    seconds: dict[str, float] = {}
    for stage in STAGES:
        if report.should_stop(at_boundary=True):
            raise Cancelled()
        reused, output = _reuse(store, stage, fingerprints[stage.name])
        if reused:
            seconds[stage.name] = 0.0
        else:
            started = time.perf_counter()
            stage_progress = _within_stage(report, stage.name, done / total, stage.weight / total)
            stage_progress(0.0)
            output = stage.run(
                StageContext(
                    path=path,
                    options=options,
                    inputs=inputs,
                    progress=stage_progress,
                    should_stop=report.should_stop,
                )
            )
            seconds[stage.name] = round(time.perf_counter() - started, 3)
            encoded = None if output is None else output.to_json()
            store.save(stage.name, fingerprints[stage.name], encoded, seconds[stage.name])
            # Read back as a resumed run would, so a fresh and a reused output are the same.
            output = None if encoded is None else stage.output.from_json(encoded)
        inputs = inputs.with_output(stage.name, output)
        done += stage.weight
        report.progress(stage.name, min(1.0, done / total))
    log.info("pipeline %s: stage seconds %s (0 = reused)", path.name, seconds)
    if inputs.fusion is None:
        raise RuntimeError("the fusion stage returned nothing")
    return PipelineRun(timeline=inputs.fusion, outputs=inputs, seconds=seconds)


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
