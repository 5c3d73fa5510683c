"""The REST API as a clinician's browser and an EHR integrator use it.

Dr Rivera lists her patients and sessions, uploads a recording, follows its job and reads the
timeline; Dr Okafor, off the care team, gets the same 404 as for a missing id; every error has
one coded shape; every PHI read leaves an audit event.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.access import NOT_FOUND_MESSAGE
from clinic.api.errors import (
    INVALID_REQUEST,
    NO_TIMELINE,
    NOT_AUTHENTICATED,
    NOT_MEDIA,
    NOT_MEDIA_MESSAGE,
    RANGE_INVALID_MESSAGE,
)
from clinic.api.views import JOB_NOT_ACTIVE
from clinic.exceptions import ConsentRequired, JobAlreadyActive
from clinic.models import AnalysisJob, AuditEvent, Consent, Patient, Recording, TherapySession, User
from tests.clinic.timeline_factory import analysed
from tests.factories import TherapySessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rivera_api(dr_rivera: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(dr_rivera)
    return client


@pytest.fixture
def okafor_api(dr_okafor: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(dr_okafor)
    return client


def test_an_anonymous_caller_gets_a_coded_401() -> None:
    response = APIClient().get(reverse("api-session-list"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == NOT_AUTHENTICATED
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_integrator_reads_sessions_with_a_token(
    dr_rivera: User, therapy_session: TherapySession
) -> None:
    token = Token.objects.create(user=dr_rivera)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(reverse("api-session-list"))
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["results"]] == [str(therapy_session.id)]


def test_session_auth_enforces_csrf_on_writes(dr_rivera: User, recording: Recording) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(dr_rivera)
    response = client.post(reverse("api-recording-analyse", args=[recording.id]))
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_dr_rivera_lists_her_patients_and_filters_sessions_by_patient_and_date(
    rivera_api: APIClient, dr_rivera: User, patient: Patient, therapy_session: TherapySession
) -> None:
    older = TherapySessionFactory.create(
        patient=patient, clinician=dr_rivera, date=therapy_session.date.replace(year=2025)
    )
    patients = rivera_api.get(reverse("api-patient-list"), {"q": "0042"}).json()
    assert [p["pseudonym"] for p in patients["results"]] == ["P-0042"]

    everything = rivera_api.get(reverse("api-session-list"), {"patient": str(patient.id)}).json()
    assert len(everything["results"]) == 2
    assert [s["id"] for s in everything["results"]] == [str(therapy_session.id), str(older.id)]
    recent = rivera_api.get(
        reverse("api-session-list"), {"date_from": therapy_session.date.isoformat()}
    ).json()
    assert [s["id"] for s in recent["results"]] == [str(therapy_session.id)]
    assert "notes" not in recent["results"][0]  # the clinician's notes never leave the page
    assert AuditEvent.objects.filter(actor=dr_rivera, action="session.list").count() == 2


def test_a_malformed_filter_gets_a_400_naming_the_field(rivera_api: APIClient) -> None:
    response = rivera_api.get(reverse("api-session-list"), {"date_from": "last tuesday"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == INVALID_REQUEST
    assert set(error["fields"]) == {"date_from"}


def test_a_colleague_off_the_care_team_gets_the_same_404_as_a_missing_session(
    okafor_api: APIClient, therapy_session: TherapySession
) -> None:
    forbidden = okafor_api.get(reverse("api-session-detail", args=[therapy_session.id]))
    missing = okafor_api.get(reverse("api-session-detail", args=[uuid.uuid4()]))
    assert forbidden.status_code == missing.status_code == 404
    assert (
        forbidden.json()
        == missing.json()
        == {"error": {"code": "not_found", "message": NOT_FOUND_MESSAGE, "fields": {}}}
    )
    assert okafor_api.get(reverse("api-session-list")).json()["results"] == []


def test_uploading_a_real_clip_stores_it_and_queues_analysis(
    rivera_api: APIClient,
    therapy_session: TherapySession,
    consents: dict[str, Consent],
    session_clip: Path,
) -> None:
    upload = SimpleUploadedFile("session.mp4", session_clip.read_bytes(), "video/mp4")
    response = rivera_api.post(
        reverse("api-recording-upload", args=[therapy_session.id]),
        {"file": upload},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    recording = Recording.objects.get(id=body["id"])
    assert recording.size_bytes == session_clip.stat().st_size
    assert body["latest_job"]["status"] == AnalysisJob.Status.QUEUED
    assert body["analysis_error"] is None

    job_id = body["latest_job"]["id"]
    assert rivera_api.get(reverse("api-job-detail", args=[job_id])).json()["status"] == "queued"
    again = rivera_api.post(reverse("api-recording-analyse", args=[recording.id]))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == JobAlreadyActive.code

    cancelled = rivera_api.post(reverse("api-job-cancel", args=[job_id]))
    assert cancelled.json()["status"] == "cancelled"
    twice = rivera_api.post(reverse("api-job-cancel", args=[job_id]))
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == JOB_NOT_ACTIVE


def test_a_text_file_is_refused_as_not_media_and_nothing_is_stored(
    rivera_api: APIClient, therapy_session: TherapySession, recordings_dir: Path
) -> None:
    letter = SimpleUploadedFile("referral.txt", b"Dear colleague, please see Sam.", "video/mp4")
    response = rivera_api.post(
        reverse("api-recording-upload", args=[therapy_session.id]),
        {"file": letter},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": NOT_MEDIA,
        "message": NOT_MEDIA_MESSAGE,
        "fields": {"file": [NOT_MEDIA_MESSAGE]},
    }
    assert not Recording.objects.exists()
    assert not recordings_dir.exists() or not any(recordings_dir.rglob("*"))


def test_a_damaged_clip_is_refused_with_its_own_code_and_nothing_is_stored(
    rivera_api: APIClient, therapy_session: TherapySession, session_clip: Path
) -> None:
    truncated = session_clip.read_bytes()[: session_clip.stat().st_size // 3]
    response = rivera_api.post(
        reverse("api-recording-upload", args=[therapy_session.id]),
        {"file": SimpleUploadedFile("cut.mp4", truncated, "video/mp4")},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "corrupt_media"
    assert not Recording.objects.exists()


def test_an_upload_is_stored_with_the_type_its_container_has_not_the_one_declared(
    rivera_api: APIClient, therapy_session: TherapySession, session_clip: Path
) -> None:
    response = rivera_api.post(
        reverse("api-recording-upload", args=[therapy_session.id]),
        {"file": SimpleUploadedFile("session.html", session_clip.read_bytes(), "text/html")},
        format="multipart",
    )
    assert response.status_code == 201
    # No consent to analysis yet: the recording is kept and the reason is given.
    assert response.json()["analysis_error"]["code"] == ConsentRequired.code
    assert Recording.objects.get().content_type == "video/mp4"


def test_the_timeline_overview_is_downsampled_and_a_range_is_in_full_detail(
    rivera_api: APIClient, dr_rivera: User, recording: Recording
) -> None:
    timeline = analysed(recording)
    url = reverse("api-session-timeline", args=[recording.session_id])

    overview = rivera_api.get(url, {"max_points": 20}).json()
    assert len(overview["windows"]) == 20
    assert overview["downsampled"] is True
    assert overview["duration_s"] == 120.0
    assert len(overview["transcript"]) == len(timeline.document["transcript"])
    assert overview["summary"]["client_talk_ratio"] == pytest.approx(67 / 87, abs=0.001)
    assert "not a diagnosis" in overview["notice"]

    zoomed = rivera_api.get(url, {"start_s": 30, "end_s": 50}).json()
    assert zoomed["downsampled"] is False
    assert all(w["end_s"] >= 30 and w["start_s"] <= 50 for w in zoomed["windows"])
    assert len(zoomed["windows"]) == 12  # 2-s windows touching [30, 50]
    assert {m["t_s"] for m in zoomed["moments"]} == {36.0, 38.0}
    assert [line["start_s"] for line in zoomed["transcript"]] == [28.0, 45.0]
    assert (
        AuditEvent.objects.filter(
            actor=dr_rivera, action="timeline.view", patient_id=recording.session.patient_id
        ).count()
        == 2
    )


def test_an_analysed_session_off_the_care_team_reads_as_missing_not_as_unanalysed(
    okafor_api: APIClient, dr_okafor: User, recording: Recording
) -> None:
    analysed(recording)
    url = reverse("api-session-timeline", args=[recording.session_id])

    forbidden = okafor_api.get(url)
    missing = okafor_api.get(reverse("api-session-timeline", args=[uuid.uuid4()]))
    not_an_id = okafor_api.get("/api/v1/sessions/not-a-session/timeline/")

    for answer in (forbidden, missing, not_an_id):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    denied = AuditEvent.objects.filter(actor=dr_okafor, outcome=AuditEvent.Outcome.DENIED)
    assert denied.filter(object_id=str(recording.session_id)).count() == 1
    assert denied.count() == 2  # the session and the unknown id; the URL refuses a non-id
    assert not AuditEvent.objects.filter(actor=dr_okafor, action="timeline.view").exists()


def test_a_backwards_range_and_a_session_without_analysis_get_coded_errors(
    rivera_api: APIClient, recording: Recording
) -> None:
    url = reverse("api-session-timeline", args=[recording.session_id])
    assert rivera_api.get(url).json()["error"]["code"] == NO_TIMELINE
    analysed(recording)
    backwards = rivera_api.get(url, {"start_s": 50, "end_s": 10})
    assert backwards.status_code == 400
    assert backwards.json()["error"]["fields"] == {"end_s": [RANGE_INVALID_MESSAGE]}


def test_the_openapi_schema_describes_the_endpoints(rivera_api: APIClient) -> None:
    response = rivera_api.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/sessions/{session_id}/fhir" in paths
    assert "/api/v1/sessions/{session_id}/timeline/" in paths
    assert "post" in paths["/api/v1/sessions/{session_id}/recordings/"]
