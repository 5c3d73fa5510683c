"""The player's media view: the care team streams the recording in ranges, nobody else sees it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from clinic.models import AuditEvent, Recording, User

pytestmark = pytest.mark.django_db


def test_the_player_fetches_a_range_and_gets_exactly_those_bytes(
    client: Client, dr_rivera: User, recording: Recording, session_clip: Path
) -> None:
    client.force_login(dr_rivera)
    url = reverse("recording-media", args=[recording.id])
    clip = session_clip.read_bytes()

    response = client.get(url, HTTP_RANGE="bytes=100-1099")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-1099/{len(clip)}"
    assert b"".join(response.streaming_content) == clip[100:1100]  # type: ignore[attr-defined]

    whole = client.get(url)
    assert whole.status_code == 200
    assert whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == clip  # type: ignore[attr-defined]
    assert (
        AuditEvent.objects.filter(
            actor=dr_rivera, action="recording.view", object_id=str(recording.id)
        ).count()
        == 1
    )  # one playback: the first read (here mid-file) is audited, the rest are part of it


def test_a_range_past_the_end_is_refused(
    client: Client, dr_rivera: User, recording: Recording
) -> None:
    client.force_login(dr_rivera)
    response = client.get(
        reverse("recording-media", args=[recording.id]),
        HTTP_RANGE=f"bytes={recording.size_bytes + 10}-",
    )
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{recording.size_bytes}"


def test_a_colleague_off_the_care_team_gets_404(
    client: Client, dr_okafor: User, recording: Recording
) -> None:
    client.force_login(dr_okafor)
    assert client.get(reverse("recording-media", args=[recording.id])).status_code == 404


def test_media_purged_under_retention_is_gone_not_an_error(
    client: Client, dr_rivera: User, recording: Recording
) -> None:
    recording.file.delete(save=True)
    client.force_login(dr_rivera)

    response = client.get(reverse("recording-media", args=[recording.id]))

    assert response.status_code == 404


def test_a_player_that_starts_mid_file_is_audited_and_an_outsider_leaves_a_denied_event(
    client: Client, dr_rivera: User, dr_okafor: User, recording: Recording
) -> None:
    url = reverse("recording-media", args=[recording.id])
    client.force_login(dr_rivera)
    assert client.get(url, HTTP_RANGE="bytes=5000-5999").status_code == 206
    client.force_login(dr_okafor)
    assert client.get(url).status_code == 404

    viewed = AuditEvent.objects.get(actor=dr_rivera, action="recording.view")
    assert viewed.details == {"range_start": 5000}
    denied = AuditEvent.objects.get(actor=dr_okafor, outcome=AuditEvent.Outcome.DENIED)
    assert (denied.action, denied.object_id) == ("recording.access", str(recording.id))
    assert denied.patient_id == recording.session.patient_id


def test_a_page_uploaded_as_a_recording_is_served_as_bytes_that_never_run(
    client: Client, dr_rivera: User, recording: Recording
) -> None:
    page = b"<!--ftyp--><script src='/api/v1/patients/'></script>"
    recording.file.save("trap.html", ContentFile(page), save=False)
    Recording.objects.filter(id=recording.id).update(
        file=recording.file.name, content_type="text/html", size_bytes=len(page)
    )
    client.force_login(dr_rivera)

    response = client.get(reverse("recording-media", args=[recording.id]))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "attachment"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_pages_and_api_answers_about_patients_are_never_cached(
    client: Client, dr_rivera: User, recording: Recording
) -> None:
    client.force_login(dr_rivera)
    session_id = recording.session_id

    for url in (
        reverse("session-list"),
        reverse("session-review", args=[session_id]),
        reverse("api-session-detail", args=[session_id]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
