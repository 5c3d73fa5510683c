"""How long a practice keeps recordings and results, and the legal holds that suspend deletion."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from clinic.models.fields import staff_reference
from clinic.models.organisations import Organisation
from clinic.models.patients import Patient
from clinic.models.sessions import TherapySession


class RetentionPolicy(models.Model):
    """One per practice; practices without one use the defaults below (APA guidance)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="retention_policy"
    )
    # The media of a recording is deleted this many days after its analysis finished.
    recording_days_after_analysis = models.PositiveIntegerField(default=90)
    # A patient's sessions, results and every derived row go this many years after the last
    # session...
    results_years_after_last_session = models.PositiveSmallIntegerField(default=7)
    # ...or, for someone treated as a minor, this many years after they come of age, if later.
    results_years_after_majority = models.PositiveSmallIntegerField(default=3)
    age_of_majority_years = models.PositiveSmallIntegerField(default=18)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = staff_reference()

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"Retention policy of {self.organisation}"


class LegalHoldQuerySet(models.QuerySet["LegalHold"]):
    def active(self) -> LegalHoldQuerySet:
        return self.filter(released_at__isnull=True)


class LegalHold(models.Model):
    """While active, nothing of the patient (or of the one session) is purged."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="legal_holds"
    )
    session = models.ForeignKey(
        TherapySession,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="legal_holds",
    )
    # Why, without PHI: a case or matter reference, e.g. "subpoena 2026-117".
    reason = models.CharField(max_length=200)
    placed_at = models.DateTimeField(default=timezone.now)
    placed_by = staff_reference()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = staff_reference()

    objects = LegalHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(patient__isnull=False, session__isnull=True)
                | models.Q(patient__isnull=True, session__isnull=False),
                name="legal_hold_on_patient_or_session",
            ),
            models.CheckConstraint(
                condition=models.Q(released_at__isnull=True)
                | models.Q(released_at__gte=models.F("placed_at")),
                name="legal_hold_released_after_placed",
            ),
        ]

    def __str__(self) -> str:
        target = f"patient {self.patient}" if self.patient_id else f"session {self.session_id}"
        return f"Legal hold on {target}: {self.reason}"

    @property
    def is_active(self) -> bool:
        return self.released_at is None
