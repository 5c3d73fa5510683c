from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from clinic.models import AnalysisJob, Recording, TimelineResult

# Where `recordings_with_latest_job` puts each recording's latest job: a list of none or one.
LATEST_JOB_ATTR = "latest_jobs"


def job_active_for_recording(*, recording: Recording) -> AnalysisJob | None:
    """The queued or running job of a recording, if any (there is at most one)."""
    return AnalysisJob.objects.filter(
        recording=recording, status__in=AnalysisJob.ACTIVE_STATUSES
    ).first()


def job_is_cancelled(*, job_id: uuid.UUID | str) -> bool:
    """True when the job was cancelled: a worker asks between stages."""
    return AnalysisJob.objects.filter(id=job_id, status=AnalysisJob.Status.CANCELLED).exists()


def timeline_latest(*, recording: Recording) -> TimelineResult | None:
    return TimelineResult.objects.filter(recording=recording).order_by("-created_at").first()


def recording_latest_job(*, recording: Recording) -> AnalysisJob | None:
    """The recording's newest job, from `recordings_with_latest_job` when it was read so."""
    prefetched: list[AnalysisJob] | None = getattr(recording, LATEST_JOB_ATTR, None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return recording.jobs.order_by("-created_at").first()


def recordings_with_latest_job() -> QuerySet[Recording]:
    """Recordings with their newest job fetched alongside (`LATEST_JOB_ATTR`): one query for
    however many recordings, where asking each one for its job would be one query apiece."""
    newest_first = AnalysisJob.objects.order_by("-created_at")
    return Recording.objects.prefetch_related(
        Prefetch("jobs", queryset=newest_first[:1], to_attr=LATEST_JOB_ATTR)
    )
