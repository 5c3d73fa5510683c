"""Giving and revoking consent."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AnalysisJob, Consent, Modality, Patient, User
from clinic.services.jobs import job_cancel


@transaction.atomic
def consent_give(
    *,
    patient: Patient,
    modality: Modality,
    form_version: str,
    given_by: str,
    given_at: datetime | None = None,
    expires_at: datetime | None = None,
    recorded_by: User | None = None,
) -> Consent:
    consent = Consent.objects.create(
        patient=patient,
        modality=modality,
        form_version=form_version,
        given_by=given_by,
        given_at=given_at or timezone.now(),
        expires_at=expires_at,
        recorded_by=recorded_by,
    )
    audit_record(
        actor=recorded_by,
        action="consent.give",
        obj=consent,
        patient=patient,
        details={"modality": str(modality), "form_version": form_version},
    )
    return consent


@transaction.atomic
def consent_revoke(*, consent: Consent, revoked_by: User | None = None) -> bool:
    """Revoke from now on; returns False when it was already revoked.

    Revoking consent to analysis also cancels the patient's queued and running analyses: a
    running job stops at its next stage boundary and cannot record a result afterwards.
    """
    now = timezone.now()
    revoked = bool(
        Consent.objects.filter(id=consent.id, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=revoked_by
        )
    )
    if not revoked:
        return False
    consent.refresh_from_db(fields=["revoked_at", "revoked_by"])
    cancelled_job_ids: list[str] = []
    if consent.modality == Modality.ANALYSIS:
        active_jobs = AnalysisJob.objects.filter(
            recording__session__patient_id=consent.patient_id,
            status__in=AnalysisJob.ACTIVE_STATUSES,
        ).values_list("id", flat=True)
        cancelled_job_ids = [str(job_id) for job_id in active_jobs if job_cancel(job_id=job_id)]
    audit_record(
        actor=revoked_by,
        action="consent.revoke",
        obj=consent,
        patient=consent.patient_id,
        details={"modality": consent.modality, "cancelled_jobs": cancelled_job_ids},
    )
    return True
