"""Who may see which patients, sessions and recordings.

Clinicians see only the patients whose care team they are on. Practice administrators see the
patient list of their own practice (to manage care teams and consent) but no sessions or
recordings. An integration sees its practice's patients, or only those of the care teams it
was confined to, with their sessions and recordings (what it may do with them is its
credential's scopes: clinic/scopes.py). Auditors and everyone else see no clinical data.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, Q, QuerySet

from clinic.models import CareTeamMembership, Integration, Patient, Recording, TherapySession, User


def _care_team_patients(user: User) -> QuerySet[CareTeamMembership, Any]:
    # A semi-join (`patient_id IN (SELECT ...)`) rather than a join: each row once, with no
    # DISTINCT over every column of the result.
    return CareTeamMembership.objects.filter(clinician=user).values("patient_id")


def _integration_patient_ids(user: User) -> QuerySet[Patient, Any]:
    """One query however the integration is set up: its practice, and its care teams if any."""
    confinement = Integration.care_team_clinicians.through.objects.filter(integration__account=user)
    confined_to = CareTeamMembership.objects.filter(
        clinician__confining_integrations__account=user
    ).values("patient_id")
    if user.organisation_id is None:  # every integration has a practice; be safe all the same
        return Patient.objects.none().values("id")
    return (
        Patient.objects.filter(organisation_id=user.organisation_id)
        .filter(Q(~Exists(confinement)) | Q(id__in=confined_to))
        .values("id")
    )


def _sees_clinical_data(user: User | AnonymousUser) -> bool:
    return isinstance(user, User) and user.is_active and (user.is_clinician or user.is_integration)


def _visible_patient_ids(user: User) -> QuerySet[Any, Any]:
    if user.is_integration:
        return _integration_patient_ids(user)
    return _care_team_patients(user)


def patients_visible_to(user: User | AnonymousUser) -> QuerySet[Patient]:
    if not isinstance(user, User) or not user.is_active:
        return Patient.objects.none()
    if user.is_integration:
        return Patient.objects.filter(id__in=_integration_patient_ids(user))
    if user.is_clinician:
        return Patient.objects.filter(id__in=_care_team_patients(user))
    if user.is_practice_admin and user.organisation_id is not None:
        return Patient.objects.filter(organisation_id=user.organisation_id)
    return Patient.objects.none()


def sessions_visible_to(user: User | AnonymousUser) -> QuerySet[TherapySession]:
    if not isinstance(user, User) or not _sees_clinical_data(user):
        return TherapySession.objects.none()
    return TherapySession.objects.filter(patient_id__in=_visible_patient_ids(user))


def recordings_visible_to(user: User | AnonymousUser) -> QuerySet[Recording]:
    if not isinstance(user, User) or not _sees_clinical_data(user):
        return Recording.objects.none()
    return Recording.objects.filter(session__patient_id__in=_visible_patient_ids(user))


def patient_records_visible_to(user: User | AnonymousUser) -> QuerySet[Patient]:
    """Patients whose clinical record (sessions, timelines) the user may read: a practice
    administrator sees the patient list, not this."""
    if not isinstance(user, User) or not _sees_clinical_data(user):
        return Patient.objects.none()
    return Patient.objects.filter(id__in=_visible_patient_ids(user))
