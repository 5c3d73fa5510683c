from __future__ import annotations

from datetime import datetime

from clinic.models import Consent, Modality, Patient


def consent_active_modalities(*, patient: Patient, at: datetime | None = None) -> set[str]:
    """The modalities (Modality values) the patient consents to at `at` (now by default)."""
    return set(
        Consent.objects.active(at).filter(patient=patient).values_list("modality", flat=True)
    )


def consent_is_active(*, patient: Patient, modality: Modality, at: datetime | None = None) -> bool:
    return Consent.objects.active(at).filter(patient=patient, modality=modality).exists()
