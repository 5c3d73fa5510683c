"""Celery tasks: thin wrappers that take ids and call the worker (clinic/worker.py) or a service.

`analyze_recording` runs on the "analysis" queue (heavy: models, minutes per recording);
`recover_stale_jobs` runs on "housekeeping" (light, scheduled by beat). Retries are for
transient errors only (database or broker hiccups), with exponential backoff; bad input fails
the job at once with its code. Late acknowledgement plus `reject_on_worker_lost` puts the
message back when a worker dies; the claim by compare-and-swap makes any re-delivery harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_shutting_down
from django.conf import settings

from clinic.services.analysis import jobs_recover_stale, worker_identity
from clinic.worker import (
    TRANSIENT_ERRORS,
    WORKER_STOPPING,
    RunOutcome,
    analysis_give_up,
    analysis_run,
)

logger = logging.getLogger(__name__)

TRANSIENT_MAX_RETRIES = 5
TRANSIENT_BACKOFF_BASE_S = 2.0  # 2, 4, 8, 16, 32 seconds
TRANSIENT_BACKOFF_MAX_S = 60.0
# How often a duplicate delivery looks again at a job another worker seems to hold, before it
# leaves the job to that worker (or to jobs_recover_stale, should that worker be gone).
HELD_MAX_RECHECKS = 3


@shared_task(
    bind=True,
    name="clinic.tasks.analyze_recording",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.ANALYSIS_SOFT_TIME_LIMIT_S,
    time_limit=settings.ANALYSIS_HARD_TIME_LIMIT_S,
    max_retries=TRANSIENT_MAX_RETRIES + HELD_MAX_RECHECKS,
)
def analyze_recording(self: Task, job_id: str, takeover_from: str | None = None) -> str:
    hostname = self.request.hostname or "local"
    try:
        outcome = analysis_run(job_id=job_id, hostname=hostname, takeover_from=takeover_from)
    except TRANSIENT_ERRORS as error:
        attempt = self.request.retries
        if attempt >= TRANSIENT_MAX_RETRIES:
            logger.error("job %s: giving up after %d retries: %s", job_id, attempt, error)
            analysis_give_up(job_id=job_id)
            return str(RunOutcome.FAILED)
        countdown = min(TRANSIENT_BACKOFF_MAX_S, TRANSIENT_BACKOFF_BASE_S * 2**attempt)
        logger.warning("job %s: %s; retrying in %.0f s", job_id, error, countdown)
        # The retry may take the job back from this very process, which still holds it.
        raise self.retry(
            exc=error,
            countdown=countdown,
            args=[job_id],
            kwargs={"takeover_from": worker_identity(hostname)},
        ) from error
    if outcome == RunOutcome.HELD and self.request.retries < HELD_MAX_RECHECKS:
        # The holder may have just died and its heartbeat not yet expired: look again later.
        raise self.retry(countdown=settings.WORKER_HEARTBEAT_TTL_S, args=[job_id], kwargs={})
    logger.info("job %s: %s", job_id, outcome)
    return str(outcome)


@shared_task(name="clinic.tasks.recover_stale_jobs", ignore_result=True)
def recover_stale_jobs() -> list[str]:
    return jobs_recover_stale()


@worker_shutting_down.connect
def _hand_back_running_jobs(**_: Any) -> None:
    """A worker asked to stop hands its running analysis back instead of finishing it."""
    WORKER_STOPPING.set()
