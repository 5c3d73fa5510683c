"""One function per protected resource: the object when `user` may see it, else Http404.

Missing and forbidden look the same, so ids cannot be probed. Views, the API, the WebSocket
consumer and exports all come through here; the rules themselves are in clinic/selectors.
Every refusal is audited (outcome "denied"): a denied attempt is what an auditor looks for.
Missing ids are audited the same way, so the two also take the same time.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from clinic.audit import audit_record
from clinic.models import (
    AnalysisJob,
    Annotation,
    AuditEvent,
    Consent,
    Patient,
    Recording,
    TherapySession,
    TimelineResult,
    User,
)
from clinic.selectors import (
    patient_records_visible_to,
    patients_visible_to,
    recordings_visible_to,
    sessions_visible_to,
)
from clinic.selectors.timelines import timeline_for_session

NOT_FOUND_MESSAGE = "Not found."

M = TypeVar("M", bound=Model)


def access_patient(user: User | AnonymousUser, patient_id: uuid.UUID | str) -> Patient:
    return _get_or_404(user, patients_visible_to(user), patient_id)


def access_patient_record(user: User | AnonymousUser, patient_id: uuid.UUID | str) -> Patient:
    """A patient whose clinical record the user may read (not a practice administrator)."""
    return _get_or_404(user, patient_records_visible_to(user), patient_id)


def access_session(user: User | AnonymousUser, session_id: uuid.UUID | str) -> TherapySession:
    return _get_or_404(user, sessions_visible_to(user).select_related("patient"), session_id)


def access_session_timeline(
    user: User | AnonymousUser, session_id: uuid.UUID | str
) -> TimelineResult | None:
    """The newest timeline of a session `user` may see, found with the access check in one
    query (the review reads open with this); None when the session has no timeline yet, and
    Http404, audited, when the session is missing or not theirs."""
    with contextlib.suppress(ValueError):  # not an id: the refusal below says so
        key = session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
        visible = sessions_visible_to(user).filter(pk=key)
        found = timeline_for_session(session=visible)
        if found is not None:
            return found
    access_session(user, session_id)  # refuses (and audits) unless the session is theirs
    return None


def access_recording(user: User | AnonymousUser, recording_id: uuid.UUID | str) -> Recording:
    return _get_or_404(
        user, recordings_visible_to(user).select_related("session__patient"), recording_id
    )


def access_job(user: User | AnonymousUser, job_id: uuid.UUID | str) -> AnalysisJob:
    jobs = AnalysisJob.objects.filter(recording__in=recordings_visible_to(user))
    return _get_or_404(user, jobs.select_related("recording__session__patient"), job_id)


def access_annotation(user: User | AnonymousUser, annotation_id: uuid.UUID | str) -> Annotation:
    """A note of a session the user may see (changing it is the author's alone: services)."""
    notes = Annotation.objects.filter(session__in=sessions_visible_to(user))
    return _get_or_404(user, notes.select_related("session__patient", "author"), annotation_id)


def access_consent(user: User | AnonymousUser, consent_id: uuid.UUID | str) -> Consent:
    """A consent of a patient the user may see: their care team, or their practice's admin."""
    consents = Consent.objects.filter(patient__in=patients_visible_to(user))
    return _get_or_404(user, consents.select_related("patient"), consent_id)


def access_audit_log(user: User | AnonymousUser) -> User:
    """The auditor reading the audit trail; everyone else is refused (PermissionDenied).

    Not a 404: the audit log's existence is no secret, only its contents are.
    """
    if isinstance(user, User) and user.is_active and user.is_auditor:
        return user
    raise PermissionDenied("Auditors only.")


def _get_or_404(user: User | AnonymousUser, queryset: QuerySet[M], object_id: uuid.UUID | str) -> M:
    try:
        key = object_id if isinstance(object_id, uuid.UUID) else uuid.UUID(str(object_id))
        return queryset.get(pk=key)
    except (ValueError, ObjectDoesNotExist):
        _audit_refusal(user, queryset.model, str(object_id))
        raise Http404(NOT_FOUND_MESSAGE) from None


def _audit_refusal(user: User | AnonymousUser, model: type[Model], object_id: str) -> None:
    existing = None
    with contextlib.suppress(ValueError):  # not even an id: nothing to find
        existing = model._default_manager.filter(pk=uuid.UUID(object_id)).first()
    audit_record(
        actor=user,
        action=f"{model._meta.model_name}.access",
        obj=existing,
        outcome=AuditEvent.Outcome.DENIED,
        details={} if existing is not None else {"requested_id": object_id[:64]},
    )
