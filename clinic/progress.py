"""Live job progress: the message format, the Channels group per session, and throttling.

Every state change of a job (claimed, progress, succeeded, failed, cancelled, requeued) is
published to the group of the job's therapy session, after the database change commits, so a
browser never sees a state that was rolled back. The WebSocket consumer (clinic/consumers.py)
forwards these messages and sends the same snapshot to a client that connects late.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from clinic.models import AnalysisJob

logger = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_S = 0.5  # at most two updates a second reach the database and browsers
GROUP_MESSAGE_TYPE = "job.progress"  # dispatched to ProgressConsumer.job_progress


def progress_group(session_id: uuid.UUID | str) -> str:
    """The Channels group that hears about every job of one therapy session."""
    return f"session-{session_id}-progress"


def job_snapshot(job: AnalysisJob) -> dict[str, Any]:
    """The job as the browser sees it (see ProgressConsumer for the format)."""
    return {
        "type": "progress",
        "job": str(job.id),
        "recording": str(job.recording_id),
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "at": (job.updated_at or timezone.now()).isoformat(),
    }


def progress_publish(*, job_id: uuid.UUID | str) -> None:
    """Send the job's current state to its session's group; a broken layer only logs.

    Progress is a convenience: a Redis hiccup here must never fail or retry an analysis.
    """
    job = AnalysisJob.objects.filter(id=job_id).select_related("recording").first()
    layer = get_channel_layer()
    if job is None or layer is None:
        return
    message = {"type": GROUP_MESSAGE_TYPE, "message": job_snapshot(job)}
    try:
        async_to_sync(layer.group_send)(progress_group(job.recording.session_id), message)
    except Exception:  # any channel layer failure is logged and ignored
        logger.warning("progress of job %s could not be published", job_id, exc_info=True)


def progress_publish_on_commit(*, job_id: uuid.UUID | str) -> None:
    """Publish once the surrounding transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: progress_publish(job_id=job_id))


class ProgressThrottle:
    """Lets a progress report through at most every `min_interval_s`, and always when the
    stage changes or the work is done, so the last word is never dropped."""

    def __init__(
        self,
        *,
        min_interval_s: float = PROGRESS_MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_at: float | None = None
        self._last: tuple[str, int] | None = None

    def admit(self, stage: str, percent: int) -> bool:
        now = self._clock()
        if self._last == (stage, percent):
            return False
        due = self._last_at is None or now - self._last_at >= self._min_interval_s
        if not (due or self._last is None or self._last[0] != stage or percent >= 100):
            return False
        self._last_at, self._last = now, (stage, percent)
        return True
