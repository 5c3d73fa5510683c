"""Reading a long session quickly without ever showing a stale or someone else's timeline.

Dr Rivera opens P-0042's session: the chart's overview comes from the overview stored with the
timeline, never from the whole document. She zooms in twice: the document is read and decrypted once
and the second range comes from this process's memory. When the session is re-analysed, or a
timeline row changes in place, or consent is withdrawn, what she reads next is the current
row, never what was remembered. Dr Okafor, off the care team, gets a 404 whatever is remembered.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from analysis.timeline import validate_timeline
from benchmarks.web import timeline_document as hour_long_document
from clinic.access import NOT_FOUND_MESSAGE
from clinic.api.errors import NO_TIMELINE
from clinic.crypto import new_master_key
from clinic.models import (
    Consent,
    ConsentScope,
    Patient,
    Recording,
    TherapySession,
    TimelineResult,
    User,
)
from clinic.selectors import timeline_documents
from clinic.selectors.timelines import OVERVIEW_FORMAT, TimelineRange, timeline_view
from clinic.services import consent_revoke
from clinic.services.encryption import encryption_rewrap
from clinic.services.jobs import job_claim, job_create, job_fail
from tests.clinic.timeline_factory import analysed, timeline_document
from tests.factories import PatientFactory, TherapySessionFactory, UserFactory

pytestmark = pytest.mark.django_db

DOCUMENT_COLUMN = '"clinic_timelineresult"."document"'


@pytest.fixture
def rivera_api(dr_rivera: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(dr_rivera)
    return client


def _document_reads(queries: CaptureQueriesContext) -> int:
    """How many of the captured queries read the stored timeline document."""
    return sum(DOCUMENT_COLUMN in query["sql"] for query in queries.captured_queries)


def _held_in_memory(timeline_id: Any) -> bool:
    cache = timeline_documents._cache()
    return cache is not None and any(key[0] == timeline_id for key in list(cache.keys()))


def _timeline_url(recording: Recording) -> str:
    return reverse("api-session-timeline", args=[recording.session_id])


def _roles_set_by_clinician() -> dict[str, Any]:
    """The same session re-analysed after Dr Rivera said S0 is the client and S1 herself."""
    document = copy.deepcopy(timeline_document())
    swap = {"client": "clinician", "clinician": "client"}
    for speaker in document["speakers"]:
        speaker["role"], speaker["role_source"] = swap[speaker["role"]], "clinician"
    for line in document["transcript"]:
        line["role"] = swap[line["role"]]
    validate_timeline(document)
    return document


def test_the_overview_is_served_from_the_stored_overview_without_reading_the_document(
    rivera_api: APIClient, recording: Recording
) -> None:
    timeline = analysed(recording)

    with CaptureQueriesContext(connection) as queries:
        response = rivera_api.get(_timeline_url(recording))

    assert response.status_code == 200
    assert _document_reads(queries) == 0
    # Exactly what working it out from the whole document gives.
    expected = timeline_view(document=timeline_document())
    assert {k: v for k, v in response.json().items() if k in expected} == json.loads(
        json.dumps(expected)
    )
    assert response.json()["job"] == str(timeline.job_id)


def test_the_stored_overview_is_ciphertext_like_the_document(recording: Recording) -> None:
    analysed(recording)
    with connection.cursor() as cursor:
        cursor.execute("SELECT overview FROM clinic_timelineresult")
        (stored,) = cursor.fetchone()

    assert stored.startswith("mle1:")
    assert "valence" not in stored
    assert "hopeless" not in stored


def test_key_rotation_re_encrypts_the_stored_overview_too(
    settings: Any, rivera_api: APIClient, recording: Recording
) -> None:
    analysed(recording)
    new_key = new_master_key()
    settings.MOODLINE_ENCRYPTION_KEYS = f"{new_key},{settings.MOODLINE_ENCRYPTION_KEYS}"
    encryption_rewrap()
    settings.MOODLINE_ENCRYPTION_KEYS = new_key  # the old key is gone

    with CaptureQueriesContext(connection) as queries:
        response = rivera_api.get(_timeline_url(recording))

    assert response.status_code == 200
    assert _document_reads(queries) == 0  # the stored overview opened under the new key
    assert response.json()["duration_s"] == 120.0


def test_a_timeline_stored_before_overviews_gets_one_on_its_first_read(
    rivera_api: APIClient, recording: Recording
) -> None:
    timeline = analysed(recording)
    TimelineResult.objects.filter(id=timeline.id).update(overview=None)  # an older row
    url = _timeline_url(recording)

    first = rivera_api.get(url)
    with CaptureQueriesContext(connection) as queries:
        second = rivera_api.get(url)

    assert first.content == second.content
    assert _document_reads(queries) == 0
    stored = TimelineResult.objects.get(id=timeline.id).overview
    assert stored is not None
    assert stored["format"] == OVERVIEW_FORMAT


def test_an_overview_stored_in_an_older_format_is_worked_out_afresh(
    rivera_api: APIClient, recording: Recording
) -> None:
    timeline = analysed(recording)
    outdated = {"format": OVERVIEW_FORMAT - 1, "max_points": 300, "view": {"windows": []}}
    TimelineResult.objects.filter(id=timeline.id).update(overview=outdated)

    overview = rivera_api.get(_timeline_url(recording)).json()

    assert len(overview["windows"]) == 60  # every window of the 2-minute session
    stored = TimelineResult.objects.get(id=timeline.id).overview
    assert stored is not None
    assert stored["format"] == OVERVIEW_FORMAT


def test_zooming_again_decodes_the_document_only_once(
    rivera_api: APIClient, recording: Recording
) -> None:
    analysed(recording)
    url = _timeline_url(recording)

    with CaptureQueriesContext(connection) as first_zoom:
        first = rivera_api.get(url, {"start_s": 30, "end_s": 50})
    with CaptureQueriesContext(connection) as second_zoom:
        second = rivera_api.get(url, {"start_s": 60, "end_s": 70})

    assert _document_reads(first_zoom) == 1
    assert _document_reads(second_zoom) == 0
    assert [w["start_s"] for w in second.json()["windows"]] == [
        58.0,
        60.0,
        62.0,
        64.0,
        66.0,
        68.0,
        70.0,
    ]
    assert first.json()["windows"][0]["start_s"] == 28.0


def test_a_re_analysed_session_is_never_served_from_memory(
    rivera_api: APIClient, recording: Recording
) -> None:
    analysed(recording)
    url = _timeline_url(recording)
    before = rivera_api.get(url, {"start_s": 0, "end_s": 120}).json()
    assert before["speakers"][0]["role"] == "clinician"

    replaced = analysed(recording, document=_roles_set_by_clinician())
    zoomed = rivera_api.get(url, {"start_s": 0, "end_s": 120}).json()
    overview = rivera_api.get(url).json()

    for view in (zoomed, overview):
        assert view["job"] == str(replaced.job_id)
        assert view["speakers"][0] == {
            **before["speakers"][0],
            "role": "client",
            "role_source": "clinician",
        }
    assert zoomed["transcript"][0]["role"] == "client"


def test_a_timeline_changed_in_place_is_never_served_from_memory(
    rivera_api: APIClient, recording: Recording
) -> None:
    timeline = analysed(recording)
    url = _timeline_url(recording)
    assert rivera_api.get(url, {"start_s": 0, "end_s": 10}).json()["speakers"][0]["role"] == (
        "clinician"
    )

    # Same row, new content (a correction, a re-encryption: any write to the row).
    TimelineResult.objects.filter(id=timeline.id).update(document=_roles_set_by_clinician())
    with CaptureQueriesContext(connection) as queries:
        zoomed = rivera_api.get(url, {"start_s": 0, "end_s": 10}).json()

    assert _document_reads(queries) == 1
    assert zoomed["speakers"][0]["role"] == "client"


def test_a_withdrawn_consent_leaves_nothing_to_read_even_after_a_zoom(
    rivera_api: APIClient, dr_rivera: User, recording: Recording, consents: dict[str, Consent]
) -> None:
    timeline_id = analysed(recording).id
    url = _timeline_url(recording)
    assert rivera_api.get(url, {"start_s": 0, "end_s": 10}).status_code == 200
    assert _held_in_memory(timeline_id)  # the zoom decoded it into this process

    consent_revoke(consent=consents[ConsentScope.ANALYSIS], revoked_by=dr_rivera)

    for query in ({"start_s": 0, "end_s": 10}, {}):
        response = rivera_api.get(url, query)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == NO_TIMELINE
    # Nor is the decoded document left in this process's memory until it would expire.
    assert not _held_in_memory(timeline_id)


def test_a_colleague_off_the_care_team_gets_a_404_for_a_timeline_held_in_memory(
    rivera_api: APIClient, dr_okafor: User, recording: Recording
) -> None:
    analysed(recording)
    url = _timeline_url(recording)
    assert rivera_api.get(url, {"start_s": 0, "end_s": 10}).status_code == 200
    okafor_api = APIClient()
    okafor_api.force_authenticate(dr_okafor)

    for query in ({"start_s": 0, "end_s": 10}, {}):
        response = okafor_api.get(url, query)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == NOT_FOUND_MESSAGE


@pytest.mark.parametrize("budget_mib", [0, 1])
def test_without_room_in_memory_every_zoom_reads_the_document_and_is_still_right(
    settings: Any, rivera_api: APIClient, recording: Recording, budget_mib: int
) -> None:
    # 0 turns the memory off; an hour-long document (~4.5 MiB decoded) does not fit in 1 MiB.
    settings.MOODLINE_TIMELINE_CACHE_MB = budget_mib
    document = hour_long_document(3600.0, seed=1)
    analysed(recording, document=document)
    url = _timeline_url(recording)

    reads = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            zoomed = rivera_api.get(url, {"start_s": 1800, "end_s": 1810}).json()
        reads.append(_document_reads(queries))

    assert reads == [1, 1]
    assert zoomed == {
        **json.loads(json.dumps(timeline_view(document=document, span=TimelineRange(1800, 1810)))),
        **{k: zoomed[k] for k in ("session", "recording", "job", "created_at")},
    }


def test_the_fhir_export_reads_the_current_timeline(
    dr_rivera: User, recording: Recording, consents: dict[str, Consent]
) -> None:
    client = APIClient()
    client.force_authenticate(dr_rivera)
    url = reverse("api-session-fhir", args=[recording.session_id])
    first = analysed(recording)
    assert client.get(url).status_code == 200

    replaced = analysed(recording)
    with CaptureQueriesContext(connection) as queries:
        bundle = client.get(url).json()
    reads = _document_reads(queries)  # read now: the next request clears the query log
    again = client.get(url).json()

    observations = {
        entry["resource"]["id"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
    }
    assert str(replaced.id) in observations
    assert str(first.id) not in observations
    assert reads == 1
    assert again["entry"] == bundle["entry"]


# --- lists ------------------------------------------------------------------------------------


def _session_with_analysis(clinician: User, patient: Patient, day: int) -> TherapySession:
    """A session with a recording whose first analysis failed and whose second is queued."""
    session = TherapySessionFactory.create(
        patient=patient,
        clinician=clinician,
        date=dt.date(2026, 1, 1) + dt.timedelta(days=day),
        notes="Long psychotherapy notes. " * 200,
    )
    recording = Recording.objects.create(
        session=session,
        file=f"{session.id}/clip.mp4",
        original_name="clip.mp4",
        content_type="video/mp4",
        sha256="0" * 64,
        size_bytes=1,
    )
    failed = job_create(recording=recording)
    assert job_claim(job_id=failed.id, worker="test-worker")
    assert job_fail(job_id=failed.id, code="internal_error", message="lost")
    job_create(recording=recording)
    return session


def test_the_session_list_takes_as_many_queries_for_twenty_sessions_as_for_one(
    rivera_api: APIClient, dr_rivera: User, patient: Patient
) -> None:
    url = reverse("api-session-list")
    _session_with_analysis(dr_rivera, patient, day=0)
    rivera_api.get(url)  # her roles are looked up once, on her first request
    with CaptureQueriesContext(connection) as one:
        assert len(rivera_api.get(url).json()["results"]) == 1
    queries_for_one = len(one)

    other_patient = PatientFactory.create(organisation=patient.organisation)
    other_patient.care_team.create(clinician=dr_rivera)
    for day in range(1, 20):
        _session_with_analysis(dr_rivera, other_patient if day % 2 else patient, day)
    with CaptureQueriesContext(connection) as twenty:
        listed = rivera_api.get(url).json()

    assert len(listed["results"]) == 20
    assert len(twenty) == queries_for_one
    # Each recording shows its newest job: the queued re-run, not the failed first attempt.
    assert {s["recordings"][0]["latest_job"]["status"] for s in listed["results"]} == {"queued"}
    # The notes are neither shown nor read.
    assert not any('"notes"' in query["sql"] for query in twenty.captured_queries)


def test_the_admin_list_of_timelines_decrypts_no_document(
    client: Client, recording: Recording
) -> None:
    for _ in range(3):
        analysed(recording)
    client.force_login(UserFactory.create(username="operator", is_staff=True, is_superuser=True))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:clinic_timelineresult_changelist"))

    assert response.status_code == 200
    assert _document_reads(queries) == 0
    assert '"clinic_timelineresult"."overview"' not in "".join(
        query["sql"] for query in queries.captured_queries
    )


def test_opening_a_session_again_reads_its_overview_from_memory_not_from_the_row(
    rivera_api: APIClient, recording: Recording
) -> None:
    analysed(recording)
    first = rivera_api.get(_timeline_url(recording))

    with CaptureQueriesContext(connection) as queries:
        again = rivera_api.get(_timeline_url(recording))

    assert not [q for q in queries if '"overview"' in q["sql"] and "::text" in q["sql"]]
    assert again.content == first.content
    assert again.json()["recording"] == str(recording.id)
