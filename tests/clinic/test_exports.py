"""A session taken out of the app: the timeline as CSV and JSON, the transcript as WebVTT and a
one-page PDF summary. Each is what it says it is, holds no note, and is audited."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from analysis.timeline import NOTICE
from clinic.exports import transcript_webvtt
from clinic.models import AuditEvent, Consent, Recording, User
from clinic.services.annotations import annotation_create
from tests.clinic.timeline_factory import DURATION_S, TRANSCRIPT, WINDOW_S, analysed

pytestmark = pytest.mark.django_db

PRIVATE_NOTE = "Wonders whether to leave her marriage"


@pytest.fixture
def client_of_rivera(
    dr_rivera: User, recording: Recording, consents: dict[str, Consent]
) -> APIClient:
    analysed(recording)
    session = recording.session
    session.notes = "Private: " + PRIVATE_NOTE
    session.save()
    annotation_create(session=session, author=dr_rivera, t_s=38.0, text=PRIVATE_NOTE)
    client = APIClient()
    client.force_login(dr_rivera)
    return client


def _export(client: APIClient, recording: Recording, kind: str) -> Any:
    response = client.get(reverse("api-session-export", args=[recording.session_id, kind]))
    assert response.status_code == 200, response.content[:300]
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith('attachment; filename="moodline-')
    assert response["Content-Disposition"].endswith(f'-{kind}"')
    assert PRIVATE_NOTE.encode() not in response.content
    return response


def test_the_timeline_csv_has_a_row_per_window_with_every_channel_and_emotion(
    client_of_rivera: APIClient, recording: Recording
) -> None:
    response = _export(client_of_rivera, recording, "timeline.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == int(DURATION_S / WINDOW_S)
    first = rows[0]
    assert {"emotion_angry", "emotion_neutral", "face_confidence", "voice_arousal"} <= set(first)
    assert abs(sum(float(first[f"emotion_{e}"]) for e in ("angry", "disgust", "fear", "happy",
               "sad", "surprise", "neutral")) - 1.0) < 1e-3  # fmt: skip
    # The stretch with no face in view says so, and has no fused valence.
    no_face = [r for r in rows if r["gaps"] == "face:no_face"]
    assert no_face
    assert all(r["valence"] == "" and r["face_valence"] == "" for r in no_face)


def test_the_timeline_json_is_the_stored_document(
    client_of_rivera: APIClient, recording: Recording
) -> None:
    response = _export(client_of_rivera, recording, "timeline.json")

    document = json.loads(response.content)
    assert document["schema"] == "moodline.timeline/1"
    assert document["notice"] == NOTICE
    assert len(document["transcript"]) == len(TRANSCRIPT)


def test_the_transcript_is_webvtt_with_each_line_voiced_by_its_role(
    client_of_rivera: APIClient, recording: Recording
) -> None:
    response = _export(client_of_rivera, recording, "transcript.vtt")

    text = response.content.decode()
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert text.startswith("WEBVTT\n\n1\n00:00:01.000 --> 00:00:06.000\n<v clinician>How has")
    assert text.count(" --> ") == len(TRANSCRIPT)
    assert "<v client>I went for a walk on Thursday" in text


def test_webvtt_cue_text_cannot_break_the_cue_or_inject_markup() -> None:
    vtt = transcript_webvtt(
        [{"start_s": 3723.5, "end_s": 3725.0, "role": "client", "text": "a <b> & c -->\n\nd"}]
    )

    assert vtt.splitlines()[3:5] == [
        "01:02:03.500 --> 01:02:05.000",
        "<v client>a &lt;b&gt; &amp; c --&gt; d",
    ]


def test_the_summary_is_a_one_page_pdf_with_the_caption(
    client_of_rivera: APIClient, recording: Recording
) -> None:
    response = _export(client_of_rivera, recording, "summary.pdf")

    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert b"/Type /Pages" in response.content
    assert b"/Count 1" in response.content
    assert b"/Title (Session summary P-0042" in response.content


def test_every_export_is_audited_with_its_format(
    client_of_rivera: APIClient, recording: Recording, dr_rivera: User
) -> None:
    for kind in ("timeline.csv", "transcript.vtt"):
        _export(client_of_rivera, recording, kind)

    events = AuditEvent.objects.filter(action="session.export").order_by("at")
    assert [e.details["format"] for e in events] == ["timeline.csv", "transcript.vtt"]
    assert {e.actor_id for e in events} == {dr_rivera.id}
    assert {e.object_id for e in events} == {str(recording.session_id)}


def test_an_unknown_export_is_refused_with_the_exports_there_are(
    client_of_rivera: APIClient, recording: Recording
) -> None:
    unknown = client_of_rivera.get(
        reverse("api-session-export", args=[recording.session_id, "timeline.xlsx"])
    )
    assert unknown.status_code == 404
    assert "timeline.csv" in unknown.json()["error"]["message"]
