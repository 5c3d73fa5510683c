"""What a patient consents to, and what an analysis would still need consent for."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

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
