from __future__ import annotations

import uuid

from clinic.models import AnalysisJob, Recording, TimelineResult


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
    """The recording's newest job, if it has any."""
    return recording.jobs.order_by("-created_at").first()
