"""What a patient consents to, and what an analysis would still need consent for."""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from clinic.models import Consent, ConsentScope, Patient


def consent_active_modalities(*, patient: Patient, at: datetime | None = None) -> set[ConsentScope]:
    """The modalities the patient consents to at `at` (now by default)."""
    values = Consent.objects.active(at).filter(patient=patient).values_list("modality", flat=True)
    return {ConsentScope(value) for value in values}


def consent_is_active(
    *, patient: Patient, modality: ConsentScope, at: datetime | None = None
) -> bool:
    return Consent.objects.active(at).filter(patient=patient, modality=modality).exists()


def consent_missing(
    *, patient: Patient, modalities: Iterable[ConsentScope | str], at: datetime | None = None
) -> list[ConsentScope]:
    """Those of `modalities` the patient does not consent to now, in the order asked; [] = go."""
    active = consent_active_modalities(patient=patient, at=at)
    missing: list[ConsentScope] = []
    for value in modalities:
        modality = ConsentScope(value)
        if modality not in active and modality not in missing:
            missing.append(modality)
    return missing


def consents_of_patient(*, patient: Patient) -> list[Consent]:
    """Every consent the patient gave, newest first, revoked and expired ones included."""
    return list(Consent.objects.filter(patient=patient).order_by("-given_at"))


EXPIRING_WITHIN = timedelta(days=30)  # an administrator renews a consent before this


def consent_state(consents: Iterable[Consent], modality: ConsentScope, at: datetime) -> str:
    """What an administrator reads about one modality of a patient's consent at `at`:
    "active", "active until <date>", "expires <date>" (within EXPIRING_WITHIN),
    "revoked <date>", "expired <date>" or "missing"."""
    of_modality = sorted(
        (c for c in consents if c.modality == modality), key=lambda c: c.given_at, reverse=True
    )
    active = [c for c in of_modality if c.is_active(at)]
    if active:
        ends = [c.expires_at for c in active]
        if any(end is None for end in ends):
            return "active"
        last = max(end for end in ends if end is not None)
        if last - at <= EXPIRING_WITHIN:
            return f"expires {last.date().isoformat()}"
        return f"active until {last.date().isoformat()}"
    if not of_modality:
        return "missing"
    latest = of_modality[0]
    if latest.revoked_at is not None and latest.revoked_at <= at:
        return f"revoked {latest.revoked_at.date().isoformat()}"
    if latest.expires_at is not None and latest.expires_at <= at:
        return f"expired {latest.expires_at.date().isoformat()}"
    return "missing"  # given for a later date only


def patients_needing_consent_attention(
    patients: QuerySet[Patient], attention: str, at: datetime
) -> QuerySet[Patient]:
    """Those of `patients` with, for some modality: no consent in force ("missing"), one in
    force that ends within EXPIRING_WITHIN ("expiring"), or a revoked one ("revoked")."""
    active = Consent.objects.active(at).filter(patient=OuterRef("pk"))
    if attention == "missing":
        lacking = [Q(~Exists(active.filter(modality=modality))) for modality in ConsentScope]
        return patients.filter(functools.reduce(operator.or_, lacking))
    if attention == "expiring":
        return patients.filter(Exists(active.filter(expires_at__lte=at + EXPIRING_WITHIN)))
    if attention == "revoked":
        revoked = Consent.objects.filter(patient=OuterRef("pk"), revoked_at__lte=at)
        return patients.filter(Exists(revoked))
    raise ValueError(f"unknown consent attention {attention!r}")
