"""Asking for a recording to be analysed: consent first, then a job, then the queue."""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

from clinic.exceptions import ConsentRequired
from clinic.models import AnalysisJob, Consent, Modality, Recording, User
from clinic.services.jobs import job_create

ANALYSIS_TASK = "clinic.tasks.analyze_recording"
ANALYSIS_QUEUE = "analysis"
# The consents that decide which parts of a recording the pipeline may look at.
MEDIA_MODALITIES = (Modality.VIDEO.value, Modality.AUDIO.value, Modality.TRANSCRIPT.value)


@transaction.atomic
def analysis_request(
    *,
    recording: Recording,
    requested_by: User | None = None,
    options: dict[str, Any] | None = None,
) -> AnalysisJob:
    """Queue analysis of `recording`; the task is sent only once the job row is committed.

    Requires active consent to analysis. Which modalities the pipeline may use (video, audio,
    transcript) is fixed now from the consents in force, and stored in the job's options.
    """
    patient_id = recording.session.patient_id
    active = set(
        Consent.objects.active().filter(patient_id=patient_id).values_list("modality", flat=True)
    )
    if Modality.ANALYSIS.value not in active:
        raise ConsentRequired()
    modalities = sorted(active & set(MEDIA_MODALITIES))
    job = job_create(
        recording=recording,
        requested_by=requested_by,
        options={"modalities": modalities, **(options or {})},
    )
    # By name, so the web process needs no import of the task module and its dependencies.
    transaction.on_commit(
        lambda: current_app.send_task(ANALYSIS_TASK, args=[str(job.id)], queue=ANALYSIS_QUEUE)
    )
    return job
