"""The one function that writes the audit trail (HIPAA §164.312(b) audit controls)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.http import HttpRequest

from clinic.models import (
    AnalysisJob,
    AuditEvent,
    IntegrationKey,
    Patient,
    Recording,
    TherapySession,
    User,
)

USER_AGENT_MAX_CHARS = 300


def audit_record(
    *,
    actor: User | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    patient: Patient | uuid.UUID | None = None,
    request: HttpRequest | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that `actor` did `action` (a dotted verb such as "recording.view") to `obj`.

    The patient is worked out from `obj` when not given, so a search by patient finds every
    event about them. `details` must not hold PHI beyond ids: the trail outlives purges.
    """
    user = actor if isinstance(actor, User) else None
    credential = getattr(request, "auth", None) if request is not None else None
    if isinstance(credential, IntegrationKey):  # which of an integration's keys made the call
        details = {**(details or {}), "credential": f"mlk_{credential.prefix}"}
    patient_id = _patient_id(patient) if patient is not None else _patient_id_of(obj)
    organisation_id = user.organisation_id if user is not None else None
    if organisation_id is None and patient_id is not None:
        organisation_id = (
            Patient.objects.filter(id=patient_id).values_list("organisation_id", flat=True).first()
        )
    return AuditEvent.objects.create(
        actor=user,
        actor_label=user.get_username() if user else "",
        action=action,
        object_type=obj._meta.model_name or "" if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient_id=patient_id,
        organisation_id=organisation_id,
        ip=request.META.get("REMOTE_ADDR") or None if request is not None else None,
        user_agent=(
            request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_CHARS]
            if request is not None
            else ""
        ),
        outcome=outcome,
        details=details or {},
    )


def _patient_id(patient: Patient | uuid.UUID) -> uuid.UUID:
    return patient.id if isinstance(patient, Patient) else patient


def _patient_id_of(obj: models.Model | None) -> uuid.UUID | None:
    if isinstance(obj, Patient):
        return obj.id
    if isinstance(obj, TherapySession):
        return obj.patient_id
    if isinstance(obj, Recording):
        return obj.session.patient_id
    if isinstance(obj, AnalysisJob):
        return obj.recording.session.patient_id
    patient_id = getattr(obj, "patient_id", None)
    return patient_id if isinstance(patient_id, uuid.UUID) else None
