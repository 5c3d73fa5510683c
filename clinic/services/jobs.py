"""The analysis job state machine, one compare-and-swap per transition.

Each transition is a single `UPDATE ... WHERE id = %s AND status IN (...)`: Postgres lets one
writer change the row and the others then see that it no longer matches, so the row count says
who won. Two workers racing for one job: exactly one `job_claim` returns True. A worker whose
job was cancelled meanwhile learns it when `job_progress` or `job_succeed` returns False.
Every transition that happened is published to the session's progress group after commit.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clinic.audit import audit_record
from clinic.exceptions import JobAlreadyActive
from clinic.models import AnalysisJob, Recording, StageResult, TimelineResult, User
from clinic.progress import progress_publish_on_commit
from clinic.scopes import WebhookEvent
from clinic.selectors.timelines import timeline_overview_of
from clinic.services.webhooks import webhook_job_event_emit

Status = AnalysisJob.Status
ACTIVE_JOB_CONSTRAINT = "one_active_job_per_recording"


@dataclass(frozen=True)
class TimelineInput:
    schema_version: str  # e.g. "moodline.timeline/1"
    document: dict[str, Any]  # the timeline JSON, already valid against its schema
    models_provenance: list[dict[str, Any]] = field(default_factory=list)  # one per model used


def job_create(
    *,
    recording: Recording,
    requested_by: User | None = None,
    options: dict[str, Any] | None = None,
) -> AnalysisJob:
    """Queue a new job; JobAlreadyActive when the recording already has a queued/running one."""
    try:
        with transaction.atomic():
            job = AnalysisJob.objects.create(
                recording=recording, requested_by=requested_by, options=options or {}
            )
            audit_record(actor=requested_by, action="analysis.request", obj=job, details={})
    except IntegrityError as error:
        if _violated_constraint(error) == ACTIVE_JOB_CONSTRAINT:
            raise JobAlreadyActive() from error
        raise
    return job


@transaction.atomic
def job_claim(*, job_id: uuid.UUID | str, worker: str) -> bool:
    """Move a queued job to running for `worker`; False when someone else got there first."""
    now = timezone.now()
    claimed = AnalysisJob.objects.filter(id=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        worker=worker,
        updated_at=now,
    )
    if claimed:
        _set_recording_status(job_id, Recording.Status.ANALYSING)
        progress_publish_on_commit(job_id=job_id)
    return bool(claimed)


@transaction.atomic
def job_take_over(*, job_id: uuid.UUID | str, worker: str, from_worker: str) -> bool:
    """Hand a running job held by `from_worker` (gone, or retrying itself) to `worker`.

    Only while `from_worker` still holds it, so two workers cannot both take it over.
    """
    now = timezone.now()
    # started_at: when the current holder took it (a restarted node is judged against it).
    taken = AnalysisJob.objects.filter(id=job_id, status=Status.RUNNING, worker=from_worker).update(
        worker=worker, attempts=F("attempts") + 1, started_at=now, updated_at=now
    )
    if taken:
        progress_publish_on_commit(job_id=job_id)
    return bool(taken)


def job_progress(*, job_id: uuid.UUID | str, progress: int, stage: str | None = None) -> bool:
    """Report progress (0-100) of a running job; False means it no longer runs: stop."""
    if not 0 <= progress <= 100:
        raise ValueError(f"progress is a percentage, got {progress}")
    changes: dict[str, Any] = {"progress": progress, "updated_at": timezone.now()}
    if stage is not None:
        changes["stage"] = stage
    running = bool(AnalysisJob.objects.filter(id=job_id, status=Status.RUNNING).update(**changes))
    if running:
        progress_publish_on_commit(job_id=job_id)
    return running


@transaction.atomic
def job_succeed(*, job_id: uuid.UUID | str, timeline: TimelineInput | None = None) -> bool:
    """Finish a running job and store its timeline, both or neither."""
    now = timezone.now()
    succeeded = AnalysisJob.objects.filter(id=job_id, status=Status.RUNNING).update(
        status=Status.SUCCEEDED, progress=100, stage="", finished_at=now, updated_at=now
    )
    if not succeeded:
        return False
    if timeline is not None:
        timeline_store(job_id=job_id, timeline=timeline)
    _set_recording_status(job_id, Recording.Status.ANALYSED)
    progress_publish_on_commit(job_id=job_id)
    webhook_job_event_emit(job_id=job_id, event=WebhookEvent.ANALYSIS_SUCCEEDED)
    return True


@transaction.atomic
def job_fail(*, job_id: uuid.UUID | str, code: str, message: str) -> bool:
    """Record the final failure of a queued or running job with a stable error code."""
    if not code:
        raise ValueError("a failed job needs an error code")
    now = timezone.now()
    failed = AnalysisJob.objects.filter(id=job_id, status__in=AnalysisJob.ACTIVE_STATUSES).update(
        status=Status.FAILED,
        error_code=code,
        error_message=message,
        finished_at=now,
        updated_at=now,
    )
    if failed:
        _set_recording_status(job_id, Recording.Status.FAILED)
        progress_publish_on_commit(job_id=job_id)
        webhook_job_event_emit(job_id=job_id, event=WebhookEvent.ANALYSIS_FAILED)
    return bool(failed)


@transaction.atomic
def job_cancel(*, job_id: uuid.UUID | str, cancelled_by: User | None = None) -> bool:
    """Cancel a queued or running job. A running worker finds out at its next report."""
    now = timezone.now()
    cancelled = AnalysisJob.objects.filter(
        id=job_id, status__in=AnalysisJob.ACTIVE_STATUSES
    ).update(status=Status.CANCELLED, cancel_requested_at=now, finished_at=now, updated_at=now)
    if not cancelled:
        return False
    job = AnalysisJob.objects.select_related("recording__session").get(id=job_id)
    has_timeline = TimelineResult.objects.filter(recording_id=job.recording_id).exists()
    _set_recording_status(
        job_id, Recording.Status.ANALYSED if has_timeline else Recording.Status.UPLOADED
    )
    audit_record(actor=cancelled_by, action="analysis.cancel", obj=job)
    progress_publish_on_commit(job_id=job_id)
    return True


@transaction.atomic
def jobs_cancel_for_patient(
    *, patient_id: uuid.UUID | str, cancelled_by: User | None = None
) -> list[str]:
    """Cancel every queued or running analysis of the patient (consent revoked, say).

    Returns the ids of the jobs cancelled; running workers stop at their next stage boundary.
    """
    active = AnalysisJob.objects.filter(
        recording__session__patient_id=patient_id, status__in=AnalysisJob.ACTIVE_STATUSES
    ).values_list("id", flat=True)
    return [
        str(job_id) for job_id in active if job_cancel(job_id=job_id, cancelled_by=cancelled_by)
    ]


def job_requeue(*, job_id: uuid.UUID | str, worker: str | None = None) -> bool:
    """Put a running job back in the queue, e.g. after its worker was lost.

    With `worker`, only when that worker still holds it. The stage results already saved stay,
    so the next attempt redoes only the stages that are missing.
    """
    running = AnalysisJob.objects.filter(id=job_id, status=Status.RUNNING)
    if worker is not None:
        running = running.filter(worker=worker)
    requeued = bool(running.update(status=Status.QUEUED, worker="", updated_at=timezone.now()))
    if requeued:
        progress_publish_on_commit(job_id=job_id)
    return requeued


def stage_result_save(
    *,
    job_id: uuid.UUID | str,
    stage: str,
    output: Any = None,
    output_path: str = "",
    duration_s: float | None = None,
) -> StageResult:
    """Keep what a stage produced (inline JSON or a file path); saving again replaces it."""
    result, _ = StageResult.objects.update_or_create(
        job_id=uuid.UUID(str(job_id)),
        stage=stage,
        defaults={"output": output, "output_path": output_path, "duration_s": duration_s},
    )
    return result


def timeline_store(*, job_id: uuid.UUID | str, timeline: TimelineInput) -> TimelineResult:
    """Store the timeline with its overview, worked out now so that no read has to decode the
    whole document to draw the chart."""
    job = AnalysisJob.objects.get(id=job_id)
    # From the document as it will read back (JSON), so that the overview is exactly what a
    # later read of the document would give.
    as_stored = json.loads(json.dumps(timeline.document, cls=DjangoJSONEncoder))
    return TimelineResult.objects.create(
        recording_id=job.recording_id,
        job=job,
        schema_version=timeline.schema_version,
        document=timeline.document,
        overview=timeline_overview_of(as_stored),
        models_provenance=timeline.models_provenance,
    )


def _set_recording_status(job_id: uuid.UUID | str, status: str) -> None:
    Recording.objects.filter(jobs__id=uuid.UUID(str(job_id))).update(status=status)


def _violated_constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)
