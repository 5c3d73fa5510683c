"""Patients and their care teams."""

from __future__ import annotations

from django.db import transaction

from clinic.audit import audit_record
from clinic.exceptions import NotAClinician
from clinic.models import CareTeamMembership, Organisation, Patient, User


@transaction.atomic
def patient_create(
    *,
    organisation: Organisation,
    pseudonym: str,
    display_name: str = "",
    year_of_birth: int | None = None,
    created_by: User | None = None,
) -> Patient:
    patient = Patient.objects.create(
        organisation=organisation,
        pseudonym=pseudonym,
        display_name=display_name,
        year_of_birth=year_of_birth,
    )
    audit_record(actor=created_by, action="patient.create", obj=patient)
    return patient


@transaction.atomic
def care_team_add(
    *, patient: Patient, clinician: User, added_by: User | None = None
) -> CareTeamMembership:
    """Let `clinician` see `patient`. Adding someone already on the team changes nothing."""
    if not clinician.is_clinician or clinician.organisation_id != patient.organisation_id:
        raise NotAClinician()
    membership, created = CareTeamMembership.objects.get_or_create(
        patient=patient, clinician=clinician, defaults={"added_by": added_by}
    )
    if created:
        audit_record(
            actor=added_by,
            action="care_team.add",
            obj=membership,
            patient=patient,
            details={"clinician": str(clinician.public_id)},
        )
    return membership


@transaction.atomic
def care_team_remove(*, patient: Patient, clinician: User, removed_by: User | None = None) -> bool:
    deleted, _ = CareTeamMembership.objects.filter(patient=patient, clinician=clinician).delete()
    if deleted:
        audit_record(
            actor=removed_by,
            action="care_team.remove",
            patient=patient,
            details={"clinician": str(clinician.public_id)},
        )
    return bool(deleted)
