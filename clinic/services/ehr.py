"""What an EHR writes: patients found again by its own identifier, and sessions booked for
its encounters. Both are upserts, so a retried call finds what the first one made."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.crypto import salted_hmac

from clinic.audit import audit_record
from clinic.exceptions import (
    ClinicianNotOnCareTeam,
    NotAClinician,
    OutsideIntegrationCareTeams,
    PseudonymTaken,
)
from clinic.models import (
    CareTeamMembership,
    ExternalPatientId,
    Organisation,
    Patient,
    TherapySession,
    User,
)
from clinic.services.patients import care_team_add

PATIENT_PSEUDONYM_UNIQUE = "patient_pseudonym_unique_in_org"


@dataclass(frozen=True)
class PatientDetails:
    """What the EHR says of a patient; None leaves a stored value as it is."""

    pseudonym: str | None = None
    display_name: str | None = None
    year_of_birth: int | None = None
    care_team: tuple[User, ...] = ()


def external_id_digest(system: str, value: str) -> str:
    return salted_hmac(
        "moodline.external-patient-id",
        f"{system}|{value}",
        secret=settings.EXTERNAL_ID_KEY,
        algorithm="sha256",
    ).hexdigest()


def clinician_of_practice(organisation: Organisation | uuid.UUID, public_id: uuid.UUID) -> User:
    organisation_id = organisation.id if isinstance(organisation, Organisation) else organisation
    clinician = User.objects.filter(
        public_id=public_id, organisation_id=organisation_id, is_active=True
    ).first()
    if clinician is None or not clinician.is_clinician:
        raise NotAClinician()
    return clinician


def _check_confinement(actor: User, clinicians: list[User]) -> None:
    """A confined integration acts only with the clinicians it was confined to."""
    if not actor.is_integration:
        return
    allowed = set(actor.integration.care_team_clinicians.values_list("id", flat=True))
    if allowed and any(clinician.id not in allowed for clinician in clinicians):
        raise OutsideIntegrationCareTeams()


@transaction.atomic
def patient_upsert(
    *,
    organisation: Organisation,
    system: str,
    value: str,
    details: PatientDetails,
    acted_by: User,
    visible: QuerySet[Patient] | None = None,
) -> tuple[Patient, bool]:
    """The patient the EHR's identifier (`system`, `value`) names, created when new; True
    when created. `visible`: the patients the caller may see, when it may not see all of
    its practice; a patient outside them is not touched."""
    _check_confinement(acted_by, list(details.care_team))
    digest = external_id_digest(system, value)
    link = (
        ExternalPatientId.objects.select_for_update()
        .select_related("patient")
        .filter(organisation=organisation, system=system, value_digest=digest)
        .first()
    )
    try:
        with transaction.atomic():
            if link is None:
                patient = Patient.objects.create(
                    organisation=organisation,
                    pseudonym=details.pseudonym or f"P-{secrets.token_hex(4).upper()}",
                    display_name=details.display_name or "",
                    year_of_birth=details.year_of_birth,
                )
                ExternalPatientId.objects.create(
                    patient=patient, organisation=organisation, system=system, value_digest=digest
                )
                created = True
            else:
                patient, created = link.patient, False
                hidden = visible is not None and not visible.filter(id=patient.id).exists()
                if hidden and not details.care_team:
                    raise OutsideIntegrationCareTeams()
                changed = _apply(patient, details)
                if changed:
                    patient.save(update_fields=changed)
    except IntegrityError as error:
        if PATIENT_PSEUDONYM_UNIQUE in str(error):
            raise PseudonymTaken() from None
        # Another request created the same identifier a moment ago: use theirs.
        return _found_after_race(organisation, system, digest, details, acted_by)
    for clinician in details.care_team:
        care_team_add(patient=patient, clinician=clinician, added_by=acted_by)
    audit_record(
        actor=acted_by,
        action="patient.upsert",
        obj=patient,
        details={"created": created, "system": system},
    )
    return patient, created


def _found_after_race(
    organisation: Organisation, system: str, digest: str, details: PatientDetails, actor: User
) -> tuple[Patient, bool]:
    link = ExternalPatientId.objects.select_related("patient").get(
        organisation=organisation, system=system, value_digest=digest
    )
    for clinician in details.care_team:
        care_team_add(patient=link.patient, clinician=clinician, added_by=actor)
    return link.patient, False


def _apply(patient: Patient, details: PatientDetails) -> list[str]:
    changed = []
    for name in ("pseudonym", "display_name", "year_of_birth"):
        value = getattr(details, name)
        if value is not None and getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    return changed


@transaction.atomic
def session_book(
    *,
    patient: Patient,
    clinician: User,
    date: dt.date,
    external_encounter_id: str = "",
    booked_by: User,
) -> tuple[TherapySession, bool]:
    """The session for the EHR's encounter, booked when new (True) or moved to the given date
    and clinician when the encounter was booked before (False)."""
    if not CareTeamMembership.objects.filter(patient=patient, clinician=clinician).exists():
        raise ClinicianNotOnCareTeam()
    _check_confinement(booked_by, [clinician])
    existing = (
        TherapySession.objects.select_for_update()
        .filter(patient=patient, external_encounter_id=external_encounter_id)
        .first()
        if external_encounter_id
        else None
    )
    if existing is not None:
        if (existing.date, existing.clinician_id) != (date, clinician.id):
            existing.date, existing.clinician = date, clinician
            existing.save(update_fields=["date", "clinician", "updated_at"])
            audit_record(actor=booked_by, action="session.update", obj=existing)
        return existing, False
    try:
        with transaction.atomic():
            session = TherapySession.objects.create(
                patient=patient,
                clinician=clinician,
                date=date,
                external_encounter_id=external_encounter_id,
            )
    except IntegrityError:  # the same encounter booked by a concurrent request
        return TherapySession.objects.get(
            patient=patient, external_encounter_id=external_encounter_id
        ), False
    audit_record(actor=booked_by, action="session.create", obj=session)
    return session, True
