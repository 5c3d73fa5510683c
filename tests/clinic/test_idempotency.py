"""Retried writes: the EHR's network drops an answer and it sends the request again with the
same `Idempotency-Key`. Nothing is created twice, and a key reused for something else is
refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import (
    ExternalPatientId,
    IdempotentRequest,
    Integration,
    Patient,
    Recording,
    TherapySession,
    User,
)
from clinic.services.idempotency import idempotency_claim, idempotency_keys_expire
from clinic.services.retention import patient_purge
from tests.clinic.integration_support import KeyClient

pytestmark = pytest.mark.django_db

MRN = {"system": "urn:ehr:mrn", "value": "MRN-4242"}


def _book(client: APIClient, patient: Patient, clinician: User, key: str, date: str) -> Any:
    return client.post(
        "/api/v1/sessions/",
        {"patient": str(patient.id), "clinician": str(clinician.public_id), "date": date},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_booking_gets_the_first_answer_and_books_once(
    patient: Patient, dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    first = _book(ehr, patient, dr_rivera, "booking-1", "2026-12-03")
    again = _book(ehr, patient, dr_rivera, "booking-1", "2026-12-03")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert TherapySession.objects.filter(patient=patient).count() == 1
    # A new key is a new request.
    assert _book(ehr, patient, dr_rivera, "booking-2", "2026-12-03").status_code == 201
    assert TherapySession.objects.filter(patient=patient).count() == 2


def test_a_key_reused_for_a_different_request_is_refused_and_changes_nothing(
    patient: Patient, dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    _book(ehr, patient, dr_rivera, "booking-1", "2026-12-03")
    reused = _book(ehr, patient, dr_rivera, "booking-1", "2026-12-10")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert list(TherapySession.objects.values_list("date", flat=True)) == [dt.date(2026, 12, 3)]


def test_a_refused_write_is_not_remembered_so_its_corrected_retry_goes_through(
    patient: Patient, dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    bad = ehr.post(
        "/api/v1/sessions/",
        {"patient": str(patient.id), "clinician": str(dr_rivera.public_id), "date": "soon"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="booking-1",
    )
    assert bad.status_code == 400
    assert _book(ehr, patient, dr_rivera, "booking-1", "2026-12-03").status_code == 201


def test_a_retry_while_the_first_is_still_running_is_told_to_wait(
    patient: Patient, dr_rivera: User, northside_ehr: Integration, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    # The same request under another key gives the fingerprint the first one would have.
    assert _book(ehr, patient, dr_rivera, "probe", "2026-12-03").status_code == 201
    fingerprint = IdempotentRequest.objects.get(key="probe").fingerprint
    # The first request under "in-flight" has claimed the key and not answered yet.
    IdempotentRequest.objects.create(
        caller=northside_ehr.account, key="in-flight", fingerprint=fingerprint
    )

    waiting = _book(ehr, patient, dr_rivera, "in-flight", "2026-12-03")
    assert waiting.status_code == 409
    assert waiting.json()["error"]["code"] == "idempotency_key_in_flight"
    assert TherapySession.objects.filter(patient=patient).count() == 1


def test_keys_belong_to_their_caller(
    patient: Patient, dr_rivera: User, northside_ehr: Integration, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    rivera = APIClient()
    rivera.force_authenticate(dr_rivera)
    assert _book(ehr, patient, dr_rivera, "same-key", "2026-12-03").status_code == 201
    assert _book(rivera, patient, dr_rivera, "same-key", "2026-12-03").status_code == 201
    assert TherapySession.objects.filter(patient=patient).count() == 2


def test_an_invalid_key_is_refused_before_anything_is_done(
    patient: Patient, dr_rivera: User, ehr_client: KeyClient
) -> None:
    refused = _book(ehr_client(), patient, dr_rivera, "x" * 256, "2026-12-03")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "idempotency_key_invalid"
    assert not TherapySession.objects.exists()


def test_a_retried_upload_stores_the_recording_once(
    patient: Patient,
    therapy_session: TherapySession,
    consents: object,
    session_clip: Path,
    ehr_client: KeyClient,
) -> None:
    ehr = ehr_client()

    def upload() -> Any:
        return ehr.post(
            f"/api/v1/sessions/{therapy_session.id}/recordings/",
            {
                "file": SimpleUploadedFile("visit.mp4", session_clip.read_bytes(), "video/mp4"),
                "analyse": "false",
            },
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="upload-1",
        )

    first, again = upload(), upload()
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert Recording.objects.filter(session=therapy_session).count() == 1


def test_upserting_a_patient_by_the_ehr_s_identifier_finds_them_again(
    dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    created = ehr.post(
        "/api/v1/patients/",
        {"identifier": MRN, "display_name": "Jo", "care_team": [str(dr_rivera.public_id)]},
        format="json",
    )
    updated = ehr.post(
        "/api/v1/patients/", {"identifier": MRN, "year_of_birth": 1990}, format="json"
    )
    assert (created.status_code, updated.status_code) == (201, 200)
    assert (created.json()["created"], updated.json()["created"]) == (True, False)
    assert updated.json()["id"] == created.json()["id"]
    patient = Patient.objects.get()
    assert (patient.display_name, patient.year_of_birth) == ("Jo", 1990)
    assert patient.pseudonym.startswith("P-")
    assert list(patient.clinicians.all()) == [dr_rivera]
    # The EHR's record number is not in the database, only its keyed hash.
    link = ExternalPatientId.objects.get()
    assert MRN["value"] not in str(ExternalPatientId.objects.values().get())
    assert len(link.value_digest) == 64


def test_a_pseudonym_already_taken_is_refused_with_its_code(
    patient: Patient, ehr_client: KeyClient
) -> None:
    taken = ehr_client().post(
        "/api/v1/patients/", {"identifier": MRN, "pseudonym": patient.pseudonym}, format="json"
    )
    assert taken.status_code == 400
    assert taken.json()["error"]["code"] == "pseudonym_taken"
    assert Patient.objects.count() == 1


def test_booking_an_encounter_again_moves_that_session_instead_of_adding_one(
    patient: Patient, dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    booking = {
        "patient": str(patient.id),
        "clinician": str(dr_rivera.public_id),
        "external_encounter_id": "ENC-9",
    }
    first = ehr.post("/api/v1/sessions/", {**booking, "date": "2026-12-03"}, format="json")
    moved = ehr.post("/api/v1/sessions/", {**booking, "date": "2026-12-04"}, format="json")
    assert (first.status_code, moved.status_code) == (201, 200)
    assert moved.json()["id"] == first.json()["id"]
    assert moved.json()["date"] == "2026-12-04"
    assert moved.json()["external_encounter_id"] == "ENC-9"


def test_a_clinician_off_the_care_team_cannot_be_booked(
    patient: Patient, dr_okafor: User, ehr_client: KeyClient
) -> None:
    refused = _book(ehr_client(), patient, dr_okafor, "k", "2026-12-03")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "clinician_not_on_care_team"


def test_remembered_answers_expire_and_go_with_a_purged_patient(
    patient: Patient, dr_rivera: User, northside_ehr: Integration, ehr_client: KeyClient
) -> None:
    ehr = ehr_client()
    ehr.post(
        "/api/v1/patients/",
        {"identifier": MRN, "care_team": [str(dr_rivera.public_id)]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="patient-1",
    )
    _book(ehr, patient, dr_rivera, "booking-1", "2026-12-03")
    assert IdempotentRequest.objects.count() == 2

    upserted = Patient.objects.exclude(id=patient.id).get()
    patient_purge(patient_id=upserted.id)
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["booking-1"]
    assert not ExternalPatientId.objects.exists()

    assert idempotency_keys_expire(at=timezone.now() + dt.timedelta(hours=23)) == 0
    assert idempotency_keys_expire(at=timezone.now() + dt.timedelta(hours=25)) == 1
    # Once expired, the key is free again.
    claim = idempotency_claim(caller=northside_ehr.account, key="booking-1", fingerprint="f")
    assert claim.state.value == "first"
