"""Who may see which patients, sessions and recordings.

Clinicians see only the patients whose care team they are on. Practice administrators see the
patient list of their own practice (to manage care teams and consent) but no sessions or
recordings. Auditors and everyone else see no clinical data.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from clinic.models import CareTeamMembership, Patient, Recording, TherapySession, User


def _care_team_patients(user: User) -> QuerySet[CareTeamMembership, Any]:
    # A semi-join (`patient_id IN (SELECT ...)`) rather than a join: each row once, with no
    # DISTINCT over every column of the result.
    return CareTeamMembership.objects.filter(clinician=user).values("patient_id")


def patients_visible_to(user: User | AnonymousUser) -> QuerySet[Patient]:
    if not isinstance(user, User) or not user.is_active:
        return Patient.objects.none()
    if user.is_clinician:
        return Patient.objects.filter(id__in=_care_team_patients(user))
    if user.is_practice_admin and user.organisation_id is not None:
        return Patient.objects.filter(organisation_id=user.organisation_id)
    return Patient.objects.none()


def sessions_visible_to(user: User | AnonymousUser) -> QuerySet[TherapySession]:
    if not isinstance(user, User) or not user.is_active or not user.is_clinician:
        return TherapySession.objects.none()
    return TherapySession.objects.filter(patient_id__in=_care_team_patients(user))


def recordings_visible_to(user: User | AnonymousUser) -> QuerySet[Recording]:
    if not isinstance(user, User) or not user.is_active or not user.is_clinician:
        return Recording.objects.none()
    return Recording.objects.filter(session__patient_id__in=_care_team_patients(user))
