"""Patients (pseudonymous, minimal PHI) and the care team allowed to see each one."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from clinic.models.fields import staff_reference
from clinic.models.organisations import Organisation


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="patients"
    )
    # The practice's pseudonymous reference ("P-0042"): what screens, logs and exports show.
    pseudonym = models.CharField(max_length=64)
    # Minimal PHI: how the clinician addresses the patient, and the year of birth that
    # retention rules for minors depend on.
    display_name = models.CharField(max_length=120, blank=True)
    year_of_birth = models.PositiveSmallIntegerField(null=True, blank=True)
    clinicians = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="CareTeamMembership",
        through_fields=("patient", "clinician"),
        related_name="patients",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pseudonym"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "pseudonym"], name="patient_pseudonym_unique_in_org"
            ),
            models.CheckConstraint(
                condition=models.Q(year_of_birth__isnull=True)
                | models.Q(year_of_birth__gte=1900, year_of_birth__lte=2100),
                name="patient_year_of_birth_plausible",
            ),
        ]

    def __str__(self) -> str:
        return self.pseudonym


class CareTeamMembership(models.Model):
    """A clinician on a patient's care team: the only way a clinician sees that patient."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="care_team_memberships"
    )
    added_by = staff_reference()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "clinician"], name="care_team_member_once_per_patient"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} on {self.patient}"
