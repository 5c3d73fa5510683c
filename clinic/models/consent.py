"""Consent, per patient and per modality: nothing is analysed without it."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import PurePath

from django.db import models
from django.utils import timezone

from analysis.modality import Modality
from clinic.models.fields import staff_reference
from clinic.models.patients import Patient
from clinic.models.sessions import recordings_storage


class ConsentScope(models.TextChoices):
    """What a consent covers: one modality (the values of analysis.modality.Modality, which
    the pipeline and the timeline speak too), or the analysis itself, needed besides."""

    FACE = Modality.FACE.value, Modality.FACE.label
    VOICE = Modality.VOICE.value, Modality.VOICE.label
    TEXT = Modality.TEXT.value, Modality.TEXT.label
    ANALYSIS = "analysis", "Emotional-trajectory analysis"


def consent_form_upload_to(instance: Consent, filename: str) -> str:
    # Ids only, like recordings: the uploaded file name may carry the patient's name.
    return f"consent-forms/{instance.patient_id}/{instance.id}{PurePath(filename).suffix.lower()}"


class ConsentQuerySet(models.QuerySet["Consent"]):
    def active(self, at: datetime | None = None) -> ConsentQuerySet:
        """Consents in force at `at` (now by default): given, not expired, not revoked."""
        moment = at or timezone.now()
        return self.filter(given_at__lte=moment).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=moment),
            models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=moment),
        )


class Consent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    modality = models.CharField(max_length=16, choices=ConsentScope.choices)
    form_version = models.CharField(max_length=32)  # which wording the patient agreed to
    given_at = models.DateTimeField()
    # Who consented: the patient, or e.g. "guardian: J. Doe" for a minor.
    given_by = models.CharField(max_length=120)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The scanned, signed form; encrypted at rest with the recordings (clinic/storage.py).
    signed_form = models.FileField(
        storage=recordings_storage, upload_to=consent_form_upload_to, max_length=500, blank=True
    )
    recorded_by = staff_reference()
    revoked_by = staff_reference()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-given_at"]
        indexes = [models.Index(fields=["patient", "modality"], name="consent_patient_modality")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__isnull=True)
                | models.Q(expires_at__gt=models.F("given_at")),
                name="consent_expires_after_given",
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True)
                | models.Q(revoked_at__gte=models.F("given_at")),
                name="consent_revoked_after_given",
            ),
            models.CheckConstraint(
                condition=models.Q(modality__in=[choice.value for choice in ConsentScope]),
                name="consent_modality_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} consents to {self.modality} (form {self.form_version})"

    def is_active(self, at: datetime | None = None) -> bool:
        moment = at or timezone.now()
        return (
            self.given_at <= moment
            and (self.expires_at is None or self.expires_at > moment)
            and (self.revoked_at is None or self.revoked_at > moment)
        )
