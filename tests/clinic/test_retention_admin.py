"""The practice administrator's tools in the admin: consent, legal holds, the purge preview.

Each goes through the same services as the API, so each leaves its audit event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from clinic.models import (
    AuditEvent,
    Consent,
    ConsentScope,
    LegalHold,
    Organisation,
    Patient,
    RetentionPolicy,
    User,
)
from tests.factories import OrganisationFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client, alex_admin: User) -> Client:
    alex_admin.is_staff = True
    alex_admin.save()
    client.force_login(alex_admin)
    return client


def _changelist_action(client: Client, model: str, action: str, ids: list[Any]) -> Any:
    return client.post(
        f"/admin/clinic/{model}/",
        {"action": action, "_selected_action": [str(key) for key in ids]},
        follow=True,
    )


def test_the_admin_records_consent_with_its_form_and_revokes_it(
    admin_client: Client, alex_admin: User, patient: Patient
) -> None:
    # An hour ago, whatever the time of day: a consent given later than now is refused.
    given = timezone.localtime() - dt.timedelta(hours=1)
    added = admin_client.post(
        "/admin/clinic/consent/add/",
        {
            "patient": str(patient.id),
            "modality": ConsentScope.FACE,
            "form_version": "2026-03",
            "given_by": "patient",
            "given_at_0": given.date().isoformat(),
            "given_at_1": given.strftime("%H:%M:%S"),
            "signed_form": SimpleUploadedFile("signed.pdf", b"%PDF signed"),
        },
    )
    assert added.status_code == 302, added.content
    consent = Consent.objects.get(patient=patient)
    assert consent.recorded_by == alex_admin
    assert consent.signed_form

    revoked = _changelist_action(admin_client, "consent", "revoke", [consent.id])
    assert b"Revoked 1 consent" in revoked.content
    consent.refresh_from_db()
    assert consent.revoked_by == alex_admin
    assert set(AuditEvent.objects.filter(actor=alex_admin).values_list("action", flat=True)) >= {
        "consent.give",
        "consent.revoke",
    }


def test_a_legal_hold_is_placed_released_and_never_deleted(
    admin_client: Client, alex_admin: User, patient: Patient
) -> None:
    placed = admin_client.post(
        "/admin/clinic/legalhold/add/", {"patient": str(patient.id), "reason": "subpoena 2026-117"}
    )
    assert placed.status_code == 302, placed.content
    hold = LegalHold.objects.get(patient=patient)
    assert hold.placed_by == alex_admin

    _changelist_action(admin_client, "legalhold", "release", [hold.id])
    hold.refresh_from_db()
    assert (hold.released_by, hold.is_active) == (alex_admin, False)
    assert admin_client.get(f"/admin/clinic/legalhold/{hold.id}/delete/").status_code == 403
    actions = AuditEvent.objects.filter(patient_id=patient.id).values_list("action", flat=True)
    assert {"legal_hold.place", "legal_hold.release"} <= set(actions)


def test_the_purge_preview_names_the_patients_due_and_deletes_nothing(
    admin_client: Client, northside: Organisation, patient: Patient
) -> None:
    Patient.objects.filter(id=patient.id).update(
        created_at=timezone.now() - dt.timedelta(days=3000)
    )
    policy = RetentionPolicy.objects.create(organisation=northside)

    preview = _changelist_action(admin_client, "retentionpolicy", "preview_purge", [policy.id])

    assert b"delete 1 patient record(s) (P-0042)" in preview.content
    assert Patient.objects.filter(id=patient.id).exists()


def test_another_practices_patients_stay_out_of_the_admins_sight(
    admin_client: Client, patient: Patient
) -> None:
    elsewhere = PatientFactory.create(
        organisation=OrganisationFactory.create(name="Southside"), pseudonym="S-0001"
    )
    listing = admin_client.get("/admin/clinic/patient/")
    assert b"P-0042" in listing.content
    assert b"S-0001" not in listing.content
    assert admin_client.get(f"/admin/clinic/patient/{elsewhere.id}/change/").status_code == 302
