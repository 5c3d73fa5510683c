"""Consent over the REST API: the practice records it with the signed form, and withdraws it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from clinic.models import (
    AuditEvent,
    Consent,
    ConsentScope,
    Patient,
    Recording,
    TimelineResult,
    User,
)
from tests.clinic.analysed import analyse

pytestmark = pytest.mark.django_db


def test_the_admin_records_consent_with_the_signed_form_and_the_team_sees_it(
    client: Client, alex_admin: User, dr_rivera: User, patient: Patient
) -> None:
    client.force_login(alex_admin)
    form = SimpleUploadedFile("consent.pdf", b"%PDF-1.7 signed", content_type="application/pdf")
    created = client.post(
        f"/api/v1/patients/{patient.id}/consents/",
        {
            "modality": "face",
            "form_version": "2026-03",
            "given_by": "patient",
            "signed_form": form,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["active"] is True
    assert created.json()["has_signed_form"] is True

    client.force_login(dr_rivera)
    listed = client.get(f"/api/v1/patients/{patient.id}/consents/").json()
    assert [(item["modality"], item["form_version"]) for item in listed] == [("face", "2026-03")]
    assert AuditEvent.objects.filter(action="consent.give", actor=alex_admin).count() == 1


def test_an_unknown_modality_is_refused(client: Client, alex_admin: User, patient: Patient) -> None:
    client.force_login(alex_admin)
    refused = client.post(
        f"/api/v1/patients/{patient.id}/consents/",
        {"modality": "thoughts", "form_version": "1", "given_by": "patient"},
    )
    assert refused.status_code == 400
    assert "modality" in refused.json()["error"]["fields"]


def test_revoking_over_the_api_deletes_what_was_derived_and_says_so(
    client: Client,
    dr_rivera: User,
    consents: dict[str, Consent],
    recording: Recording,
    tmp_path: Path,
) -> None:
    analyse(recording, modalities=["face", "voice"], workdir=tmp_path)
    client.force_login(dr_rivera)
    consent_id = consents[ConsentScope.FACE].id

    revoked = client.post(f"/api/v1/consents/{consent_id}/revoke", {})
    again = client.post(f"/api/v1/consents/{consent_id}/revoke", {})

    assert revoked.status_code == 200
    body = revoked.json()
    assert (body["active"], body["deleted_timelines"], body["deleted_recordings"]) == (False, 1, 0)
    assert not TimelineResult.objects.filter(recording=recording).exists()
    assert Recording.objects.filter(id=recording.id).exists()
    assert (again.status_code, again.json()["error"]["code"]) == (409, "consent_already_revoked")


def test_no_one_outside_the_team_or_practice_administration_touches_consent(
    client: Client, dr_okafor: User, audrey_auditor: User, consents: dict[str, Consent]
) -> None:
    consent = consents[ConsentScope.VOICE]
    for outsider in (dr_okafor, audrey_auditor):
        client.force_login(outsider)
        assert client.get(f"/api/v1/patients/{consent.patient_id}/consents/").status_code == 404
        assert client.post(f"/api/v1/consents/{consent.id}/revoke", {}).status_code == 404
    consent.refresh_from_db()
    assert consent.revoked_at is None
