"""Asking for a recording to be analysed, running it on a worker, and recovering lost jobs.

`analysis_request` (web): consent first, then a job, then the queue, after commit.
`analysis_run` (worker): claim by compare-and-swap, resume from the stage outputs already in
Postgres, report throttled progress, stop at a stage boundary when cancelled, and record the
final state. Database and broker hiccups propagate so the task can retry; bad input never does.
`jobs_recover_stale` (beat, housekeeping queue): put back the jobs whose worker vanished.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import tempfile
import threading
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import redis
from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analysis.errors import AnalysisError, Cancelled
from analysis.pipeline import (
    STAGE_WEIGHTS,
    STAGES,
    UPSTREAM,
    PipelineOptions,
    StageOutput,
    run_stage,
)
from analysis.pipeline import stage_fingerprints as pipeline_stage_fingerprints
from clinic.errors import (
    INTERNAL_ERROR,
    RECORDING_MISSING,
    SERVICE_UNAVAILABLE,
    TIME_LIMIT,
    clinician_message,
)
from clinic.exceptions import ConsentRequired
from clinic.heartbeat import heartbeat_workers, redis_client
from clinic.models import AnalysisJob, Modality, Recording, User
from clinic.pipeline_bridge import (
    pipeline_options_for,
    recording_local_copy,
    recording_media_record,
    stage_output_store,
    stage_outputs_saved,
)
from clinic.progress import PROGRESS_MIN_INTERVAL_S, ProgressThrottle
from clinic.selectors import consent_active_modalities, consent_missing
from clinic.services.jobs import (
    TimelineInput,
    job_claim,
    job_create,
    job_fail,
    job_progress,
    job_requeue,
    job_succeed,
    job_take_over,
)

logger = logging.getLogger(__name__)

ANALYSIS_TASK = "clinic.tasks.analyze_recording"
ANALYSIS_QUEUE = "analysis"
# The consents that decide which parts of a recording the pipeline may look at.
MEDIA_MODALITIES = (Modality.VIDEO.value, Modality.AUDIO.value, Modality.TRANSCRIPT.value)
# A running job whose worker has no heartbeat and that has not reported for this long is lost.
RUNNING_STALE_AFTER_S = 5 * 60
# A queued job this old may have lost its message (a broker restarted without persistence);
# sending it again is harmless, since only one delivery can claim it.
QUEUED_STALE_AFTER_S = 30 * 60

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


@transaction.atomic
def analysis_request(
    *,
    recording: Recording,
    requested_by: User | None = None,
    options: dict[str, Any] | None = None,
) -> AnalysisJob:
    """Queue analysis of `recording`; the task is sent only once the job row is committed.

    Requires active consent to analysis and to at least one of video, audio or transcript; the
    refusal names what is missing. The modalities the pipeline may use are fixed now from the
    consents in force, and stored in the job's options.
    """
    patient = recording.session.patient
    missing = consent_missing(patient=patient, modalities=[Modality.ANALYSIS])
    if missing:
        raise ConsentRequired(
            f"The patient has not given active consent to {missing[0].label.lower()}."
        )
    active = consent_active_modalities(patient=patient)
    modalities = sorted(Modality(value).value for value in active if value in MEDIA_MODALITIES)
    if not modalities:
        raise ConsentRequired(
            "The patient has not given active consent to any of video, audio or transcript "
            "analysis, so there is nothing the analysis may look at."
        )
    job = job_create(
        recording=recording,
        requested_by=requested_by,
        options={"modalities": modalities, **(options or {})},
    )
    transaction.on_commit(lambda: analysis_enqueue(job_id=job.id))
    return job


def analysis_enqueue(*, job_id: uuid.UUID | str, countdown_s: float | None = None) -> None:
    # By name, so the web process needs no import of the task module and its dependencies.
    current_app.send_task(
        ANALYSIS_TASK, args=[str(job_id)], queue=ANALYSIS_QUEUE, countdown=countdown_s
    )


# --- running a job on a worker ---------------------------------------------------------------


def worker_identity(hostname: str) -> str:
    """How a job names the process that holds it: the Celery node name and the process id."""
    return f"{hostname}#{os.getpid()}"


def worker_is_gone(worker: str, *, alive_hosts: set[str], this_host: str = "") -> bool:
    """True when the holder's node has no heartbeat, or is this very node and its process is
    dead (a pool child killed while its parent, and so the heartbeat, lives on)."""
    host, _, pid = worker.rpartition("#")
    if not host or host not in alive_hosts:
        return True
    if host == this_host and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


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
        return _run_claimed(job_id=job.id, worker=worker)
    except Cancelled:
        if WORKER_STOPPING.is_set() and job_requeue(job_id=job.id, worker=worker):
            transaction.on_commit(partial(analysis_enqueue, job_id=job.id))
            return RunOutcome.HANDED_BACK
        status = AnalysisJob.objects.filter(id=job.id).values_list("status", flat=True).first()
        return RunOutcome.CANCELLED if status == Status.CANCELLED else RunOutcome.LOST
    except AnalysisError as error:
        logger.info("job %s failed: %s", job.id, error)
        job_fail(job_id=job.id, code=error.code, message=clinician_message(error.code))
        return RunOutcome.FAILED
    except SoftTimeLimitExceeded:
        logger.warning("job %s passed its time limit", job.id)
        job_fail(job_id=job.id, code=TIME_LIMIT, message=clinician_message(TIME_LIMIT))
        return RunOutcome.FAILED
    except FileNotFoundError:
        logger.exception("job %s: the recording file is missing from storage", job.id)
        job_fail(
            job_id=job.id, code=RECORDING_MISSING, message=clinician_message(RECORDING_MISSING)
        )
        return RunOutcome.FAILED
    except TRANSIENT_ERRORS:
        raise
    except Exception:
        logger.exception("job %s stopped on an unexpected error", job.id)
        job_fail(job_id=job.id, code=INTERNAL_ERROR, message=clinician_message(INTERNAL_ERROR))
        return RunOutcome.FAILED


def analysis_give_up(*, job_id: uuid.UUID | str) -> bool:
    """Fail a job whose transient errors outlasted every retry."""
    return job_fail(
        job_id=job_id, code=SERVICE_UNAVAILABLE, message=clinician_message(SERVICE_UNAVAILABLE)
    )


def _claim(job: AnalysisJob, *, hostname: str, takeover_from: str | None) -> RunOutcome | None:
    """None when this worker now holds the job, else why this delivery stops here."""
    worker = worker_identity(hostname)
    if job_claim(job_id=job.id, worker=worker):
        return None
    if takeover_from and job_take_over(job_id=job.id, worker=worker, from_worker=takeover_from):
        return None
    job.refresh_from_db(fields=["status", "worker"])
    if job.status != Status.RUNNING:
        return RunOutcome.FINISHED_BEFORE if job.is_final else RunOutcome.HELD
    alive = set(heartbeat_workers(redis_client()))
    if worker_is_gone(job.worker, alive_hosts=alive, this_host=hostname):
        logger.warning("job %s: taking over from %s, which is gone", job.id, job.worker)
        if job_take_over(job_id=job.id, worker=worker, from_worker=job.worker):
            return None
    return RunOutcome.HELD


class _JobReporter:
    """Progress (throttled) and the cancellation check, both answered from the job row."""

    def __init__(self, *, job_id: uuid.UUID, worker: str) -> None:
        self._job_id = job_id
        self._worker = worker
        self._throttle = ProgressThrottle()
        self._checked_at = 0.0
        self._stop = False

    def report(self, stage: str, fraction: float) -> None:
        percent = max(0, min(99, int(fraction * 100)))  # 100 only once the result is stored
        admitted = self._throttle.admit(stage, percent)
        if admitted and not job_progress(job_id=self._job_id, progress=percent, stage=stage):
            self._stop = True

    def should_stop(self, *, at_boundary: bool = False) -> bool:
        """True once the job is cancelled, another worker holds it, or this worker is shutting
        down. Within a stage the database is asked at most twice a second; at a stage boundary
        (five a job) always, so a cancellation never lets one more stage start."""
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


def _run_claimed(*, job_id: uuid.UUID, worker: str) -> RunOutcome:
    job = AnalysisJob.objects.select_related("recording__session__patient").get(id=job_id)
    options = pipeline_options_for(job)
    reporter = _JobReporter(job_id=job_id, worker=worker)
    total_weight = sum(STAGE_WEIGHTS.values())
    with tempfile.TemporaryDirectory(prefix="moodline-job-") as folder:
        path = recording_local_copy(job.recording, Path(folder))
        fingerprints = pipeline_stage_fingerprints(path, options)
        saved = stage_outputs_saved(job_id=job_id)
        outputs: dict[str, StageOutput] = {}
        timings: dict[str, float] = {}
        done = 0.0
        for stage in STAGES:
            if reporter.should_stop(at_boundary=True):
                raise Cancelled()
            previous = saved.get(stage)
            if previous is not None and previous.fingerprint == fingerprints[stage]:
                outputs[stage] = previous.output
                timings[stage] = 0.0
            else:
                outputs[stage], timings[stage] = _stage_run(
                    stage, path, options, outputs, reporter, base=done / total_weight
                )
                stage_output_store(
                    job_id=job_id,
                    stage=stage,
                    fingerprint=fingerprints[stage],
                    output=outputs[stage],
                    duration_s=timings[stage],
                )
                if stage == "ingest":
                    recording_media_record(recording_id=job.recording_id, ingest=outputs[stage])
            done += STAGE_WEIGHTS[stage]
            reporter.report(stage, done / total_weight)
    logger.info("job %s: stage seconds %s (0 = reused)", job_id, timings)
    document = outputs["fusion"] or {}
    timeline = TimelineInput(
        schema_version=str(document.get("schema", "")),
        document=document,
        models_provenance=list(document.get("models", [])),
    )
    if job_succeed(job_id=job_id, timeline=timeline):
        return RunOutcome.SUCCEEDED
    raise Cancelled()  # cancelled (or taken over) after the last stage boundary


def _stage_run(
    stage: str,
    path: Path,
    options: PipelineOptions,
    outputs: dict[str, StageOutput],
    reporter: _JobReporter,
    *,
    base: float,
) -> tuple[StageOutput, float]:
    share = STAGE_WEIGHTS[stage] / sum(STAGE_WEIGHTS.values())
    started = time.perf_counter()
    reporter.report(stage, base)
    output = run_stage(
        stage,
        path,
        options=options,
        inputs={name: outputs[name] for name in UPSTREAM[stage]},
        progress=lambda fraction: reporter.report(stage, base + share * fraction),
        should_cancel=reporter.should_stop,
    )
    return output, time.perf_counter() - started


# --- transient errors, and recovering lost jobs ------------------------------------------------


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


def jobs_recover_stale(
    *,
    running_stale_after_s: float = RUNNING_STALE_AFTER_S,
    queued_stale_after_s: float = QUEUED_STALE_AFTER_S,
) -> list[str]:
    """Requeue running jobs whose worker is gone (or that outlived the hard time limit), and
    send stale queued jobs again. Returns the ids of the jobs sent to the queue."""
    now = timezone.now()
    alive = set(heartbeat_workers(redis_client()))
    stuck_before = now - dt.timedelta(seconds=settings.ANALYSIS_HARD_TIME_LIMIT_S + 60)
    sent: list[str] = []
    running = AnalysisJob.objects.filter(
        status=Status.RUNNING, updated_at__lt=now - dt.timedelta(seconds=running_stale_after_s)
    ).values_list("id", "worker", "updated_at")
    for job_id, worker, updated_at in running:
        lost = worker_is_gone(worker, alive_hosts=alive) or updated_at < stuck_before
        if lost and job_requeue(job_id=job_id, worker=worker):
            logger.warning("job %s: requeued, its worker %s is gone", job_id, worker)
            sent.append(str(job_id))
    stale_queued = AnalysisJob.objects.filter(
        status=Status.QUEUED, updated_at__lt=now - dt.timedelta(seconds=queued_stale_after_s)
    ).values_list("id", flat=True)
    for job_id in stale_queued:
        if AnalysisJob.objects.filter(id=job_id, status=Status.QUEUED).update(updated_at=now):
            sent.append(str(job_id))
    for job_id_text in sent:
        transaction.on_commit(partial(analysis_enqueue, job_id=job_id_text))
    return sent
