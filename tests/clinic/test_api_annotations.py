"""Notes pinned to the timeline: the care team reads them, only the author changes them."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import Annotation, AuditEvent, Patient, Recording, User
from clinic.services import care_team_add
from clinic.services.annotations import AnnotationNotYours, AnnotationOutsideSession
from tests.clinic.timeline_factory import analysed

pytestmark = pytest.mark.django_db


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_dr_rivera_pins_a_note_and_her_colleague_reads_but_cannot_change_it(
    dr_rivera: User, dr_okafor: User, patient: Patient, recording: Recording
) -> None:
    analysed(recording)
    url = reverse("api-annotation-list", args=[recording.session_id])
    created = _client(dr_rivera).post(
        url, {"t_s": 38.0, "text": "  Hopelessness about work; revisit.  "}, format="json"
    )
    assert created.status_code == 201
    note = created.json()
    assert note["text"] == "Hopelessness about work; revisit."
    assert note["mine"] is True

    assert _client(dr_okafor).get(url).status_code == 404  # not on the care team yet
    care_team_add(patient=patient, clinician=dr_okafor)
    listed = _client(dr_okafor).get(url).json()
    assert [(n["t_s"], n["author"], n["mine"]) for n in listed] == [(38.0, "dr_rivera", False)]

    detail = reverse("api-annotation-detail", args=[note["id"]])
    refused = _client(dr_okafor).patch(detail, {"text": "edited"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == AnnotationNotYours.code
    assert _client(dr_okafor).delete(detail).status_code == 400

    moved = _client(dr_rivera).patch(detail, {"t_s": 40.5}, format="json")
    assert moved.json()["t_s"] == 40.5
    assert _client(dr_rivera).delete(detail).status_code == 204
    assert not Annotation.objects.exists()
    actions = set(AuditEvent.objects.filter(actor=dr_rivera).values_list("action", flat=True))
    assert {"annotation.create", "annotation.update", "annotation.delete"} <= actions


def test_a_note_past_the_end_of_the_recording_or_without_text_is_refused(
    dr_rivera: User, recording: Recording
) -> None:
    analysed(recording)
    url = reverse("api-annotation-list", args=[recording.session_id])
    late = _client(dr_rivera).post(url, {"t_s": 500, "text": "after the end"}, format="json")
    assert late.json()["error"]["code"] == AnnotationOutsideSession.code
    blank = _client(dr_rivera).post(url, {"t_s": 5, "text": ""}, format="json")
    assert blank.status_code == 400
    assert set(blank.json()["error"]["fields"]) == {"text"}
    assert not Annotation.objects.exists()
