"""The player's media view: the care team streams the recording in ranges, nobody else sees it."""

from __future__ import annotations

from pathlib import Path

import pytest
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
    )  # the whole-file read; a range in the middle is the same playback


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
