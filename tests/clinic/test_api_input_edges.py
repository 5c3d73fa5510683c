"""Inputs that used to reach the database, or Django's HTML pages, get the API's coded 4xx."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from clinic.models import Consent, Patient, TherapySession, User

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_the_patient_search_is_a_400_not_a_database_error(
    client: Client, dr_rivera: User, patient: Patient
) -> None:
    client.force_login(dr_rivera)
    answer = client.get("/api/v1/patients/", {"q": "P-\x00"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"
    assert "q" in answer.json()["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sessions/not-a-uuid/",
        "/api/v1/recordings/42/analyse",
        "/api/v1/jobs/%00/",
        "/api/v1/nothing-here",
    ],
)
def test_an_id_that_is_not_a_uuid_gets_the_json_not_found(
    client: Client, dr_rivera: User, path: str
) -> None:
    client.force_login(dr_rivera)
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["error"]["code"] == "not_found"


def test_a_page_outside_the_api_keeps_the_html_not_found(client: Client, dr_rivera: User) -> None:
    client.force_login(dr_rivera)
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


def _give(client: Client, patient: Patient, **dates: dt.datetime) -> dict[str, Any]:
    body = {"modality": "voice", "form_version": "1", "given_by": "patient"}
    body.update({name: value.isoformat() for name, value in dates.items()})
    answer = client.post(
        f"/api/v1/patients/{patient.id}/consents/", body, content_type="application/json"
    )
    return {"status": answer.status_code, **answer.json()}


def test_a_consent_that_expires_before_it_was_given_is_a_400(
    client: Client, alex_admin: User, patient: Patient
) -> None:
    client.force_login(alex_admin)
    given = timezone.now() - dt.timedelta(days=2)
    answer = _give(client, patient, given_at=given, expires_at=given - dt.timedelta(days=1))
    assert answer["status"] == 400
    assert answer["error"]["code"] == "consent_dates_invalid"
    assert not Consent.objects.filter(patient=patient).exists()


def test_a_consent_given_in_the_future_is_a_400(
    client: Client, alex_admin: User, patient: Patient
) -> None:
    client.force_login(alex_admin)
    answer = _give(client, patient, given_at=timezone.now() + dt.timedelta(days=30))
    assert answer["status"] == 400
    assert answer["error"]["code"] == "consent_dates_invalid"


def test_a_consent_given_a_moment_ahead_of_the_server_clock_can_be_revoked_at_once(
    client: Client, alex_admin: User, patient: Patient
) -> None:
    client.force_login(alex_admin)
    given = _give(client, patient, given_at=timezone.now() + dt.timedelta(minutes=2))
    assert given["status"] == 201
    revoked = client.post(f"/api/v1/consents/{given['id']}/revoke", {})
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["active"] is False


def test_a_recording_over_the_limit_found_while_storing_is_a_413(
    client: Client,
    dr_rivera: User,
    therapy_session: TherapySession,
    session_clip: Path,
    settings: Any,
) -> None:
    # The Django test client has no ASGI server in front: the size is found while storing,
    # and answered as clinic.body_limit answers it from the Content-Length.
    settings.RECORDING_MAX_BYTES = 1000
    client.force_login(dr_rivera)
    upload = SimpleUploadedFile("s.mp4", session_clip.read_bytes(), content_type="video/mp4")
    answer = client.post(
        f"/api/v1/sessions/{therapy_session.id}/recordings/", {"file": upload, "analyse": "false"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "recording_too_large"


def test_a_crash_under_the_api_answers_the_json_error(
    dr_rivera: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clinic.api import views

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.PatientList, "get", crash)
    client = Client(raise_request_exception=False)
    client.force_login(dr_rivera)
    answer = client.get("/api/v1/patients/")
    assert answer.status_code == 500
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["error"]["code"] == "internal_error"
