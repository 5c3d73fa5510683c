"""The clinician's pages served by Django: the patient's course across sessions, opening a
session, the filters on the sessions list, and the face thumbnails behind a score."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from clinic.models import (
    AuditEvent,
    Consent,
    ConsentScope,
    Patient,
    Recording,
    TherapySession,
    User,
)
from clinic.selectors.patient_course import patient_course
from clinic.services import consent_revoke
from tests.clinic.timeline_factory import analysed, timeline_document
from tests.factories import RecordingFactory, TherapySessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rivera(dr_rivera: User) -> Client:
    client = Client()
    client.force_login(dr_rivera)
    return client


def _brighter(document: dict[str, Any], by: float) -> dict[str, Any]:
    """The factory's session, its client `by` more positive throughout."""
    for window in document["windows"]:
        if window["valence"] is not None:
            window["valence"] = round(min(1.0, window["valence"] + by), 3)
    return document


def test_the_course_lists_every_session_in_date_order_with_its_figures(
    recording: Recording, dr_rivera: User, session_clip: Path
) -> None:
    analysed(recording)  # yesterday's session
    earlier = TherapySessionFactory.create(
        patient=recording.session.patient,
        clinician=dr_rivera,
        date=timezone.localdate() - dt.timedelta(days=15),
    )
    analysed(
        RecordingFactory.create(session=earlier, clip=session_clip, uploaded_by=dr_rivera),
        _brighter(timeline_document(), -0.3),
    )
    unrecorded = TherapySessionFactory.create(
        patient=recording.session.patient, clinician=dr_rivera, date=timezone.localdate()
    )
    sessions = list(TherapySession.objects.filter(patient=recording.session.patient))

    course = patient_course(patient=recording.session.patient, sessions=sessions)

    assert [c.session_id for c in course] == [earlier.id, recording.session_id, unrecorded.id]
    first, second, third = course
    assert first.valence is not None
    assert second.valence is not None
    assert first.valence.mean == pytest.approx(second.valence.mean - 0.3, abs=0.02)
    assert 0 < second.valence.spread < 0.5
    assert second.moments == 3
    assert second.client_talk_ratio == pytest.approx(0.77, abs=0.01)
    assert second.emotion_share is not None
    assert sum(second.emotion_share.values()) == pytest.approx(1.0, abs=0.01)
    assert not third.analysed
    assert third.valence is None


def test_the_patient_page_is_the_care_teams_and_audited(
    recording: Recording, rivera: Client, dr_okafor: User
) -> None:
    analysed(recording)
    url = reverse("patient-page", args=[recording.session.patient_id])

    page = rivera.get(url)

    assert page.status_code == 200
    assert b'id="course-data"' in page.content
    assert reverse("session-review", args=[recording.session_id]).encode() in page.content
    assert AuditEvent.objects.filter(action="patient.course").count() == 1
    outsider = Client()
    outsider.force_login(dr_okafor)
    assert outsider.get(url).status_code == 404


def test_a_clinician_opens_a_session_only_for_a_patient_on_her_care_team(
    rivera: Client, patient: Patient, dr_okafor: User
) -> None:
    today = timezone.localdate().isoformat()

    made = rivera.post(reverse("session-new"), {"patient": str(patient.pk), "date": today})

    session = TherapySession.objects.get()
    assert made.status_code == 302
    assert made["Location"] == reverse("session-review", args=[session.id])
    outsider = Client()
    outsider.force_login(dr_okafor)
    refused = outsider.post(reverse("session-new"), {"patient": str(patient.pk), "date": today})
    assert refused.status_code == 200
    assert b"Choose a patient on your care team." in refused.content
    assert TherapySession.objects.count() == 1


def test_the_sessions_list_filters_by_patient_status_and_date(
    recording: Recording, rivera: Client, dr_rivera: User
) -> None:
    analysed(recording)
    old = TherapySessionFactory.create(
        patient=recording.session.patient,
        clinician=dr_rivera,
        date=timezone.localdate() - dt.timedelta(days=40),
    )
    url = reverse("session-list")
    review = reverse("session-review", args=[recording.session_id]).encode()
    old_review = reverse("session-review", args=[old.id]).encode()

    def shows(query: dict[str, str]) -> tuple[bool, bool]:
        content = rivera.get(url, query).content
        return review in content, old_review in content

    assert shows({}) == (True, True)
    assert shows({"status": "analysed"}) == (True, False)
    assert shows({"status": "none"}) == (False, True)
    since = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    assert shows({"date_from": since}) == (True, False)
    assert shows({"q": "0042"}) == (True, True)
    assert shows({"q": "nobody"}) == (False, False)
    assert shows({"date_from": "yesterday-ish"}) == (False, False)  # malformed: matches nothing


def _jpeg_size(content: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == "JPEG"
        return image.size


def test_a_face_thumbnail_is_served_privately_audited_and_only_with_video_consent(
    recording: Recording, rivera: Client, consents: dict[str, Consent], dr_rivera: User
) -> None:
    url = reverse("recording-frame", args=[recording.id])

    thumbnail = rivera.get(url, {"t_s": "1.0"})

    assert thumbnail.status_code == 200
    assert max(_jpeg_size(thumbnail.content)) <= 192
    assert thumbnail["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.filter(action="recording.view_frame").count() == 1
    assert rivera.get(url, {"t_s": "soon"}).status_code == 400
    assert rivera.get(url, {"t_s": "3600"}).status_code == 404
    consent_revoke(consent=consents[ConsentScope.FACE], revoked_by=dr_rivera)
    assert rivera.get(url, {"t_s": "1.0"}).status_code == 403


def test_a_face_thumbnail_shows_the_face_in_its_box_not_the_room(
    recording: Recording, rivera: Client, consents: dict[str, Consent]
) -> None:
    url = reverse("recording-frame", args=[recording.id])

    whole = rivera.get(url, {"t_s": "1.0"})
    face = rivera.get(url, {"t_s": "1.0", "box": "100,40,220,180"})

    assert face.status_code == 200
    assert _jpeg_size(whole.content) == (192, 144)  # the 320 x 240 frame, 4:3
    # the 120 x 140 box with a quarter of its size around it: 180 x 210, taller than wide
    assert _jpeg_size(face.content) == (165, 192)
    event = AuditEvent.objects.filter(action="recording.view_frame").latest("at")
    assert event.details == {"t_s": 1.0, "face_only": True}
    refused = {
        "100,40,220": "box must be four numbers",
        "100,40,220,east": "box must be four numbers",
        "220,40,100,180": "top-left",
        "-5,40,220,180": "from 0",
        "nan,40,220,180": "from 0",
    }
    for box, message in refused.items():
        answer = rivera.get(url, {"t_s": "1.0", "box": box})
        assert answer.status_code == 400, box
        assert message in answer.content.decode(), box
    assert rivera.get(url, {"t_s": "1.0", "box": "900,900,990,990"}).status_code == 404
