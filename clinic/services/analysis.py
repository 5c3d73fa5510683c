"""Asking for a recording to be analysed, and recovering jobs whose worker vanished.

`analysis_request` (web): consent first, then a job, then the queue, after commit.
`jobs_recover_stale` (beat, housekeeping queue): put back the jobs whose worker vanished.
Running a job is the worker's (clinic/worker.py); nothing here loads the analysis models,
so the web process can import it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analysis.modality import Modality
from clinic.exceptions import ConsentRequired
from clinic.heartbeat import heartbeat_started, redis_client
from clinic.models import AnalysisJob, ConsentScope, Recording, User
from clinic.selectors import consent_active_modalities, consent_missing
from clinic.services.jobs import job_create, job_requeue

logger = logging.getLogger(__name__)

ANALYSIS_TASK = "clinic.tasks.analyze_recording"
ANALYSIS_QUEUE = "analysis"
# The consents that decide which parts of a recording the pipeline may look at.
MEDIA_MODALITIES = tuple(m.value for m in Modality)
# Clocks of the database and the workers may differ by this much.
CLOCK_SLACK_S = 5.0
# A running job whose worker has no heartbeat and that has not reported for this long is lost.
RUNNING_STALE_AFTER_S = 5 * 60
# A queued job this old may have lost its message (a broker restarted without persistence);
# sending it again is harmless, since only one delivery can claim it.
QUEUED_STALE_AFTER_S = 30 * 60

Status = AnalysisJob.Status


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
    missing = consent_missing(patient=patient, modalities=[ConsentScope.ANALYSIS])
    if missing:
        raise ConsentRequired(
            f"The patient has not given active consent to {missing[0].label.lower()}."
        )
    active = consent_active_modalities(patient=patient)
    modalities = sorted(value.value for value in active if value in MEDIA_MODALITIES)
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


def worker_is_gone(
    worker: str,
    *,
    alive_hosts: Mapping[str, float],
    held_since: dt.datetime | None = None,
    this_host: str = "",
) -> bool:
    """True when the holder's node has no heartbeat, or restarted after it took the job (a
    node restarted under the same name beats at once, yet holds nothing), or is this very node
    and its process is dead (a pool child killed while its parent, and so the heartbeat, lives
    on). `alive_hosts`: when each live node started (clinic.heartbeat.heartbeat_started)."""
    host, _, pid = worker.rpartition("#")
    if not host or host not in alive_hosts:
        return True
    if held_since is not None and alive_hosts[host] > held_since.timestamp() + CLOCK_SLACK_S:
        return True
    if host == this_host and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


# --- recovering lost jobs ---------------------------------------------------------------------


def jobs_recover_stale(
    *,
    running_stale_after_s: float = RUNNING_STALE_AFTER_S,
    queued_stale_after_s: float = QUEUED_STALE_AFTER_S,
) -> list[str]:
    """Requeue running jobs whose worker is gone (or that outlived the hard time limit), and
    send stale queued jobs again. Returns the ids of the jobs sent to the queue."""
    now = timezone.now()
    alive = heartbeat_started(redis_client())
    stuck_before = now - dt.timedelta(seconds=settings.ANALYSIS_HARD_TIME_LIMIT_S + 60)
    sent: list[str] = []
    running = AnalysisJob.objects.filter(
        status=Status.RUNNING, updated_at__lt=now - dt.timedelta(seconds=running_stale_after_s)
    ).values_list("id", "worker", "updated_at", "started_at")
    for job_id, worker, updated_at, started_at in running:
        gone = worker_is_gone(worker, alive_hosts=alive, held_since=started_at)
        lost = gone or updated_at < stuck_before
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
