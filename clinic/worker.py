"""Running an analysis job on a Celery worker: claim it, run the pipeline, record the result.

The stage loop itself is `analysis.pipeline.run_pipeline`, the same one the command line and
the benchmarks run. What this module adds is the job around it:

- `analysis_run`: claim the job by compare-and-swap (or take it over from a worker that is
  gone), run it, and record how it ended; database and broker hiccups propagate so the task
  can retry, bad input never does;
- `StageResultStore`: the pipeline's stage store on `StageResult` rows, so a job that a new
  worker resumes on another machine reuses what is already in Postgres;
- `JobReporter`: progress (throttled, published after commit) and the stop check (cancelled,
  taken over, or this worker shutting down), both answered from the job row;
- consent in force → `PipelineOptions`; the stored recording → a local working copy.

Only the worker imports this module (and with it torch and the models); the web process never
does (tests/test_web_imports.py).
"""

from __future__ import annotations

import enum
import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init, worker_ready
from django.db import transaction

from analysis.errors import AnalysisError, Cancelled, ErrorCode
from analysis.modality import Modality
from analysis.pipeline import PipelineOptions, Stored, run_pipeline
from analysis.stage_outputs import Json
from analysis.threads import apply_thread_budget
from clinic.errors import clinician_message
from clinic.heartbeat import heartbeat_started, redis_client
from clinic.models import AnalysisJob, Recording, StageResult
from clinic.progress import PROGRESS_MIN_INTERVAL_S, ProgressThrottle
from clinic.scratch import (
    job_scratch,
    scratch_empty_node,
    scratch_forget_jobs,
    scratch_remove_stale,
)
from clinic.selectors import consent_active_modalities
from clinic.services.analysis import analysis_enqueue, worker_identity, worker_is_gone
from clinic.services.jobs import (
    TimelineInput,
    job_claim,
    job_fail,
    job_progress,
    job_requeue,
    job_succeed,
    job_take_over,
    stage_result_save,
)

logger = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 4 * 1024 * 1024
# Job options (fixed at request time) that may tune the pipeline, with the type each must have.
TUNABLE_OPTIONS: dict[str, type[float] | type[str]] = {
    "sample_fps": float,
    "window_s": float,
    "transcript_engine": str,
}

Status = AnalysisJob.Status


class RunOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    GONE = "gone"  # the job row no longer exists
    FINISHED_BEFORE = "finished_before"  # already final: a duplicate delivery
    HELD = "held"  # a live worker runs it; this delivery is a duplicate
    LOST = "lost"  # another worker took the job over while this one ran
    HANDED_BACK = "handed_back"  # this worker is shutting down: the job went back to the queue


# Set when this worker process is asked to stop: a running analysis then hands its job back at
# the next progress report, so a restart or scale-down never waits for a long recording.
WORKER_STOPPING = threading.Event()


def _transient_errors() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError

    return (
        OperationalError,
        InterfaceError,
        BrokerError,
        redis.ConnectionError,
        redis.TimeoutError,
    )


# Database or broker hiccups: worth a retry with backoff. Nothing about the input is here.
TRANSIENT_ERRORS = _transient_errors()


# --- from a job row to the pipeline's inputs ---------------------------------------------------


def pipeline_options_for(job: AnalysisJob) -> PipelineOptions:
    """What the pipeline may analyse: the modalities fixed at request time that are still
    consented to now (a consent can end between the request and the run)."""
    recording: Recording = job.recording
    consented = set(job.options.get("modalities", [])) & consent_active_modalities(
        patient=recording.session.patient
    )
    tuning = {
        name: kind(job.options[name])
        for name, kind in TUNABLE_OPTIONS.items()
        if name in job.options
    }
    return PipelineOptions(
        modalities=frozenset(Modality(m) for m in consented if m in set(Modality)),
        # Who is who, as a clinician set it (clinic/services/roles.py)
        role_overrides=tuple((str(k), str(v)) for k, v in job.options.get("role_overrides", [])),
        **tuning,  # type: ignore[arg-type]  # each value has its field's type (TUNABLE_OPTIONS)
    )


def recording_local_copy(recording: Recording, folder: Path) -> Path:
    """Copy the stored recording into `folder` through the storage API; the path of the copy.

    Raises FileNotFoundError when storage no longer has the file.
    """
    name = recording.file.name or ""
    target = folder / f"recording{PurePath(name).suffix.lower()}"
    with recording.file.storage.open(name, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
    return target


# --- the pipeline's store and reporter for a job -----------------------------------------------


@dataclass(frozen=True)
class _SavedRow:
    fingerprint: str
    output: Json | None


class StageResultStore:
    """Stage outputs on the job's `StageResult` rows (encrypted at rest), read once up front.

    A stage this job has not run yet is also looked for among the rows of the recording's
    succeeded analyses, newest first, by its fingerprint (the same file, options and model
    weights): a new analysis that changes only the roles runs fusion alone, however many role
    changes came before. Rows of a revoked modality were deleted with the consent, so nothing
    revoked is reused.

    Saving ingest also records what it learnt about the file (duration, streams) on the
    recording, as soon as it is known.
    """

    def __init__(self, *, job_id: uuid.UUID, recording_id: uuid.UUID) -> None:
        self._job_id = job_id
        self._recording_id = recording_id
        self._saved: dict[str, _SavedRow] = {}
        for result in StageResult.objects.filter(job_id=job_id):
            stored = result.output
            if isinstance(stored, dict) and "fingerprint" in stored:
                self._saved[result.stage] = _SavedRow(stored["fingerprint"], stored.get("output"))

    def load(self, stage: str, fingerprint: str) -> Stored | None:
        row = self._saved.get(stage)
        if row is not None and row.fingerprint == fingerprint:
            return Stored(row.output)
        earlier = (
            StageResult.objects.filter(
                job__recording_id=self._recording_id, job__status=Status.SUCCEEDED, stage=stage
            )
            .exclude(job_id=self._job_id)
            .order_by("-job__finished_at")
        )
        for result in earlier:
            stored = result.output
            if isinstance(stored, dict) and stored.get("fingerprint") == fingerprint:
                return Stored(stored.get("output"))
        return None

    def save(self, stage: str, fingerprint: str, output: Json | None, duration_s: float) -> None:
        stage_result_save(
            job_id=self._job_id,
            stage=stage,
            output={"fingerprint": fingerprint, "output": output},
            duration_s=round(duration_s, 3),
        )
        if stage == "ingest" and output is not None:
            media = output["media"]  # as IngestOutput.to_json wrote it
            Recording.objects.filter(id=self._recording_id).update(
                duration_s=media["duration_s"], media_info=media
            )


class JobReporter:
    """Progress (throttled) and the stop check, both answered from the job row."""

    def __init__(self, *, job_id: uuid.UUID, worker: str) -> None:
        self._job_id = job_id
        self._worker = worker
        self._throttle = ProgressThrottle()
        self._checked_at = 0.0
        self._stop = False

    def progress(self, stage: str, fraction: float) -> None:
        percent = max(0, min(99, int(fraction * 100)))  # 100 only once the result is stored
        admitted = self._throttle.admit(stage, percent)
        if admitted and not job_progress(job_id=self._job_id, progress=percent, stage=stage):
            self._stop = True

    def should_stop(self, *, at_boundary: bool = False) -> bool:
        """True once the job is cancelled, another worker holds it, or this worker is shutting
        down. Within a stage the database is asked at most twice a second; at a stage boundary
        always, so a cancellation never lets one more stage start."""
        if WORKER_STOPPING.is_set():
            return True
        now = time.monotonic()
        due = at_boundary or now - self._checked_at >= PROGRESS_MIN_INTERVAL_S
        if not self._stop and due:
            self._checked_at = now
            self._stop = not AnalysisJob.objects.filter(
                id=self._job_id, status=Status.RUNNING, worker=self._worker
            ).exists()
        return self._stop


@worker_init.connect
@worker_process_init.connect
def _size_threads_at_start(**_: Any) -> None:
    """This process's share of the cores for the analyses it runs (analysis/threads.py): set
    once, before the first job loads a model."""
    budget = apply_thread_budget()
    logger.info("analysis threads: %s", budget.describe())


@worker_ready.connect
def _empty_scratch_at_start(sender: Any = None, **_: Any) -> None:
    """A node that starts runs no job yet: whatever its scratch folder holds is left over."""
    scratch_empty_node(getattr(sender, "hostname", None) or "worker")


# --- running a job -----------------------------------------------------------------------------


def analysis_run(
    *, job_id: uuid.UUID | str, hostname: str, takeover_from: str | None = None
) -> RunOutcome:
    """Run (or resume) the job on this worker; returns what became of this delivery."""
    worker = worker_identity(hostname)
    job = AnalysisJob.objects.filter(id=job_id).first()
    if job is None:
        return RunOutcome.GONE
    claim = _claim(job, hostname=hostname, takeover_from=takeover_from)
    if claim is not None:
        return claim
    try:
        return _run_claimed(job_id=job.id, worker=worker, node=hostname)
    except Cancelled:
        if WORKER_STOPPING.is_set() and job_requeue(job_id=job.id, worker=worker):
            transaction.on_commit(partial(analysis_enqueue, job_id=job.id))
            return RunOutcome.HANDED_BACK
        status = AnalysisJob.objects.filter(id=job.id).values_list("status", flat=True).first()
        return RunOutcome.CANCELLED if status == Status.CANCELLED else RunOutcome.LOST
    except AnalysisError as error:
        logger.info("job %s failed: %s", job.id, error)
        return _fail(job.id, error.code)
    except SoftTimeLimitExceeded:
        logger.warning("job %s passed its time limit", job.id)
        return _fail(job.id, ErrorCode.TIME_LIMIT)
    except FileNotFoundError:
        logger.exception("job %s: the recording file is missing from storage", job.id)
        return _fail(job.id, ErrorCode.RECORDING_MISSING)
    except TRANSIENT_ERRORS:
        raise
    except Exception:
        logger.exception("job %s stopped on an unexpected error", job.id)
        return _fail(job.id, ErrorCode.INTERNAL_ERROR)


def _fail(job_id: uuid.UUID, code: ErrorCode) -> RunOutcome:
    job_fail(job_id=job_id, code=code, message=clinician_message(code))
    return RunOutcome.FAILED


def analysis_give_up(*, job_id: uuid.UUID | str) -> bool:
    """Fail a job whose transient errors outlasted every retry."""
    code = ErrorCode.SERVICE_UNAVAILABLE
    return job_fail(job_id=job_id, code=code, message=clinician_message(code))


def _claim(job: AnalysisJob, *, hostname: str, takeover_from: str | None) -> RunOutcome | None:
    """None when this worker now holds the job, else why this delivery stops here."""
    worker = worker_identity(hostname)
    if job_claim(job_id=job.id, worker=worker):
        return None
    if takeover_from and job_take_over(job_id=job.id, worker=worker, from_worker=takeover_from):
        return None
    job.refresh_from_db(fields=["status", "worker", "started_at"])
    if job.status != Status.RUNNING:
        return RunOutcome.FINISHED_BEFORE if job.is_final else RunOutcome.HELD
    alive = heartbeat_started(redis_client())
    if worker_is_gone(job.worker, alive_hosts=alive, held_since=job.started_at, this_host=hostname):
        logger.warning("job %s: taking over from %s, which is gone", job.id, job.worker)
        if job_take_over(job_id=job.id, worker=worker, from_worker=job.worker):
            return None
    return RunOutcome.HELD


def _run_claimed(*, job_id: uuid.UUID, worker: str, node: str) -> RunOutcome:
    job = AnalysisJob.objects.select_related("recording__session__patient").get(id=job_id)
    options = pipeline_options_for(job)
    store = StageResultStore(job_id=job_id, recording_id=job.recording_id)
    reporter = JobReporter(job_id=job_id, worker=worker)
    scratch_remove_stale(node, keep=[job_id])  # what a killed sibling process left
    with job_scratch(node, job_id) as folder:
        path = recording_local_copy(job.recording, folder)
        run = run_pipeline(path, options=options, store=store, reporter=reporter)
    scratch_forget_jobs([job_id])  # and what a killed holder of this job left on this machine
    logger.info("job %s: stage seconds %s (0 = reused)", job_id, run.seconds)
    timeline = TimelineInput(
        schema_version=str(run.document.get("schema", "")),
        document=run.document,
        models_provenance=run.timeline.models,
    )
    if job_succeed(job_id=job_id, timeline=timeline):
        return RunOutcome.SUCCEEDED
    raise Cancelled()  # cancelled (or taken over) after the last stage boundary
