"""Giving and revoking consent, and deleting what was derived once it is withdrawn.

Which results depend on which consent: video feeds the face stage, audio the voice stage,
transcript the Whisper transcript and the text emotion read from it, and the fused timeline
depends on every modality its job was allowed to use (job options "modalities"). Consent to
analysis as a whole covers all of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from clinic.audit import audit_record
from clinic.exceptions import ConsentDatesInvalid
from clinic.models import (
    AnalysisJob,
    Consent,
    ConsentScope,
    Patient,
    Recording,
    StageResult,
    TimelineResult,
    User,
)
from clinic.models.sessions import recordings_storage
from clinic.scopes import WebhookEvent
from clinic.services.jobs import job_cancel
from clinic.services.webhooks import webhook_event_emit
from clinic.storage import paths_delete_on_commit, stored_files_delete_on_commit

# The stage outputs derived from each consent's modality: the stage that reads it and every
# stage downstream of that one (analysis/stages.py STAGES: voice links speakers to faces, text
# splits the transcript between speakers, fusion holds every modality's scores and the words).
# Written out because the web process does not import the pipeline; a test checks it against
# the stage graph.
STAGES_OF_MODALITY: dict[str, tuple[str, ...]] = {
    ConsentScope.FACE: ("face", "voice", "text", "fusion"),
    ConsentScope.VOICE: ("voice", "text", "fusion"),
    ConsentScope.TEXT: ("transcript", "text", "fusion"),
    ConsentScope.ANALYSIS: ("ingest", "face", "voice", "transcript", "text", "fusion"),
}

# How far ahead of this server's clock a client's "given now" may be and still be accepted.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RevocationReport:
    cancelled_job_ids: list[str] = field(default_factory=list)  # jobs stopped by the revocation
    deleted_stage_results: int = 0  # stage outputs of the revoked modality removed
    deleted_timelines: int = 0  # fused timelines that had used the revoked modality
    deleted_recordings: int = 0  # recordings removed because the patient asked for that too


@transaction.atomic
def consent_give(
    *,
    patient: Patient,
    modality: ConsentScope,
    form_version: str,
    given_by: str,
    given_at: datetime | None = None,
    expires_at: datetime | None = None,
    recorded_by: User | None = None,
    signed_form: File[bytes] | None = None,
) -> Consent:
    now = timezone.now()
    given_at = given_at or now
    if given_at > now + CLOCK_SKEW:
        raise ConsentDatesInvalid("A consent cannot be given in the future (given_at).")
    if expires_at is not None and expires_at <= given_at:
        raise ConsentDatesInvalid("A consent must expire after it was given (expires_at).")
    consent = Consent(
        patient=patient,
        modality=modality,
        form_version=form_version,
        given_by=given_by,
        given_at=given_at,
        expires_at=expires_at,
        recorded_by=recorded_by,
    )
    if signed_form is not None:
        consent.signed_form.save(signed_form.name or "form", signed_form, save=False)
    try:
        consent.save(force_insert=True)
    except BaseException:
        if consent.signed_form:
            consent.signed_form.delete(save=False)
        raise
    audit_record(
        actor=recorded_by,
        action="consent.give",
        obj=consent,
        patient=patient,
        details={
            "modality": str(modality),
            "form_version": form_version,
            "signed_form": bool(signed_form),
        },
    )
    return consent


@transaction.atomic
def consent_revoke(
    *,
    consent: Consent,
    revoked_by: User | None = None,
    delete_recordings: bool = False,
) -> RevocationReport | None:
    """Withdraw consent from now on; None when it was already revoked.

    Stops the patient's queued and running analyses that relied on it (a running job stops at
    its next stage boundary and cannot store a result afterwards) and deletes every result
    derived from the modality, files included. The recordings themselves stay unless
    `delete_recordings`: deleting them is the patient's separate choice.
    """
    # A consent given up to CLOCK_SKEW ahead of this clock ends at the moment it began.
    revoked_at = max(timezone.now(), consent.given_at)
    revoked = bool(
        Consent.objects.filter(id=consent.id, revoked_at__isnull=True).update(
            revoked_at=revoked_at, revoked_by=revoked_by
        )
    )
    if not revoked:
        return None
    consent.refresh_from_db(fields=["revoked_at", "revoked_by"])
    modality = str(consent.modality)
    jobs = AnalysisJob.objects.filter(recording__session__patient_id=consent.patient_id)
    cancelled = [
        str(job_id)
        for job_id in jobs.filter(status__in=AnalysisJob.ACTIVE_STATUSES).values_list(
            "id", flat=True
        )
        if _job_uses(job_id, modality) and job_cancel(job_id=job_id, cancelled_by=revoked_by)
    ]
    stage_results = StageResult.objects.filter(job__in=jobs, stage__in=STAGES_OF_MODALITY[modality])
    timelines = TimelineResult.objects.filter(recording__session__patient_id=consent.patient_id)
    if modality != ConsentScope.ANALYSIS:
        timelines = timelines.filter(job__options__modalities__contains=[modality])
    deleted_stage_results = _delete_stage_results(stage_results)
    deleted_timelines, _ = timelines.delete()
    deleted_recordings = (
        recordings_delete(patient_id=consent.patient_id, deleted_by=revoked_by)
        if delete_recordings
        else 0
    )
    report = RevocationReport(
        cancelled_job_ids=cancelled,
        deleted_stage_results=deleted_stage_results,
        deleted_timelines=deleted_timelines,
        deleted_recordings=deleted_recordings,
    )
    audit_record(
        actor=revoked_by,
        action="consent.revoke",
        obj=consent,
        patient=consent.patient_id,
        details={
            "modality": modality,
            "cancelled_jobs": cancelled,
            "deleted_stage_results": deleted_stage_results,
            "deleted_timelines": deleted_timelines,
            "deleted_recordings": deleted_recordings,
        },
    )
    webhook_event_emit(
        event=WebhookEvent.CONSENT_REVOKED,
        organisation_id=consent.patient.organisation_id,
        patient_id=consent.patient_id,
        data={"consent": str(consent.id), "modality": modality},
    )
    return report


def _job_uses(job_id: uuid.UUID, modality: str) -> bool:
    if modality == ConsentScope.ANALYSIS:
        return True
    options = AnalysisJob.objects.values_list("options", flat=True).get(id=job_id) or {}
    return modality in options.get("modalities", [])


def _delete_stage_results(stage_results: QuerySet[StageResult]) -> int:
    paths = [path for path in stage_results.values_list("output_path", flat=True) if path]
    deleted, _ = stage_results.delete()
    paths_delete_on_commit(paths)
    return deleted


@transaction.atomic
def recordings_delete(*, patient_id: uuid.UUID, deleted_by: User | None = None) -> int:
    """Delete every recording of a patient, media files and derived results included."""
    recordings = Recording.objects.filter(session__patient_id=patient_id)
    for job_id in AnalysisJob.objects.filter(
        recording__in=recordings, status__in=AnalysisJob.ACTIVE_STATUSES
    ).values_list("id", flat=True):
        job_cancel(job_id=job_id, cancelled_by=deleted_by)
    _delete_stage_results(StageResult.objects.filter(job__recording__in=recordings))
    names = [name for name in recordings.values_list("file", flat=True) if name]
    recording_ids = [str(recording_id) for recording_id in recordings.values_list("id", flat=True)]
    recordings.delete()
    stored_files_delete_on_commit(recordings_storage(), names)
    audit_record(
        actor=deleted_by,
        action="recording.delete",
        patient=patient_id,
        details={"recordings": recording_ids},
    )
    return len(recording_ids)
