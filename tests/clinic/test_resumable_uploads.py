"""A recording sent in pieces over a link that drops: the EHR resumes where the upload stands,
a piece sent twice is refused rather than stored twice, and what is stored on the way is
ciphertext that goes when the upload ends, expires or the patient is purged."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks as CommitCapture
from rest_framework.test import APIClient

from clinic.models import Patient, Recording, ResumableUpload, TherapySession, User
from clinic.scopes import Scope
from clinic.services.resumable_uploads import upload_piece_add, upload_start, uploads_expire
from clinic.services.retention import patient_purge
from tests.clinic.integration_support import KeyClient

pytestmark = pytest.mark.django_db
PIECE = "application/octet-stream"


def _start(client: APIClient, session: TherapySession, size: int) -> dict[str, Any]:
    started = client.post(
        f"/api/v1/sessions/{session.id}/uploads/",
        {"filename": "visit.mp4", "size_bytes": size},
        format="json",
    )
    assert started.status_code == 201, started.content
    answer: dict[str, Any] = started.json()
    return answer


def _send(client: APIClient, upload_id: str, offset: int, piece: bytes) -> Any:
    return client.patch(
        f"/api/v1/uploads/{upload_id}", piece, content_type=PIECE, HTTP_UPLOAD_OFFSET=str(offset)
    )


def _stored_files(recordings_dir: Path) -> list[Path]:
    return [path for path in recordings_dir.rglob("*") if path.is_file()]


def test_a_recording_sent_in_pieces_with_a_dropped_answer_arrives_whole_and_once(
    therapy_session: TherapySession,
    consents: object,
    session_clip: Path,
    recordings_dir: Path,
    ehr_client: KeyClient,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    ehr = ehr_client(Scope.RECORDINGS_UPLOAD)
    clip = session_clip.read_bytes()
    thirds = [clip[: len(clip) // 3], clip[len(clip) // 3 : 2 * len(clip) // 3]]
    thirds.append(clip[2 * len(clip) // 3 :])
    upload = _start(ehr, therapy_session, len(clip))
    assert upload["received_bytes"] == 0

    assert _send(ehr, upload["id"], 0, thirds[0]).json()["received_bytes"] == len(thirds[0])
    # The answer to the second piece is lost; the EHR sends it again, is refused, and asks.
    assert _send(ehr, upload["id"], len(thirds[0]), thirds[1]).status_code == 200
    again = _send(ehr, upload["id"], len(thirds[0]), thirds[1])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "upload_offset_mismatch"
    resume_at = ehr.get(f"/api/v1/uploads/{upload['id']}").json()["received_bytes"]
    assert resume_at == len(thirds[0]) + len(thirds[1])
    # What is stored meanwhile is ciphertext.
    for piece_file in _stored_files(recordings_dir):
        assert thirds[0][:64] not in piece_file.read_bytes()
        assert thirds[1][:64] not in piece_file.read_bytes()

    assert _send(ehr, upload["id"], resume_at, thirds[2]).json()["received_bytes"] == len(clip)
    with django_capture_on_commit_callbacks(execute=True):
        finished = ehr.post(
            f"/api/v1/uploads/{upload['id']}/complete", {"analyse": False}, format="json"
        )
    assert finished.status_code == 201, finished.content
    recording = Recording.objects.get(session=therapy_session, id=finished.json()["id"])
    assert recording.sha256 == hashlib.sha256(clip).hexdigest()
    assert recording.size_bytes == len(clip)
    assert recording.content_type == "video/mp4"
    # The upload and its pieces are gone; only the recording's own file is left.
    assert not ResumableUpload.objects.exists()
    assert [path.name for path in _stored_files(recordings_dir)] == [
        Path(str(recording.file.name)).name
    ]


def test_finishing_before_every_byte_arrived_is_refused(
    therapy_session: TherapySession, session_clip: Path, ehr_client: KeyClient
) -> None:
    ehr = ehr_client(Scope.RECORDINGS_UPLOAD)
    clip = session_clip.read_bytes()
    upload = _start(ehr, therapy_session, len(clip))
    _send(ehr, upload["id"], 0, clip[:100])
    refused = ehr.post(f"/api/v1/uploads/{upload['id']}/complete", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "upload_incomplete"
    assert refused.json()["error"]["message"].startswith(f"100 of {len(clip)} bytes")
    assert not Recording.objects.exists()


def test_a_piece_running_past_the_announced_size_is_refused(
    therapy_session: TherapySession, ehr_client: KeyClient
) -> None:
    ehr = ehr_client(Scope.RECORDINGS_UPLOAD)
    upload = _start(ehr, therapy_session, 10)
    refused = _send(ehr, upload["id"], 0, b"x" * 11)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "recording_too_large"
    assert ehr.get(f"/api/v1/uploads/{upload['id']}").json()["received_bytes"] == 0


def test_an_upload_larger_than_the_installation_accepts_is_refused_at_the_start(
    therapy_session: TherapySession, settings: Any, ehr_client: KeyClient
) -> None:
    settings.RECORDING_MAX_BYTES = 1000
    refused = ehr_client(Scope.RECORDINGS_UPLOAD).post(
        f"/api/v1/sessions/{therapy_session.id}/uploads/",
        {"filename": "long.mp4", "size_bytes": 1001},
        format="json",
    )
    assert refused.status_code == 413
    assert not ResumableUpload.objects.exists()


def test_pieces_that_are_not_a_recording_are_refused_at_the_end_and_removed(
    therapy_session: TherapySession,
    recordings_dir: Path,
    ehr_client: KeyClient,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    ehr = ehr_client(Scope.RECORDINGS_UPLOAD)
    letter = b"Dear colleague, please see Sam next week. " * 20
    upload = _start(ehr, therapy_session, len(letter))
    _send(ehr, upload["id"], 0, letter)
    with django_capture_on_commit_callbacks(execute=True):
        refused = ehr.post(f"/api/v1/uploads/{upload['id']}/complete", {}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "not_media"
    assert not ResumableUpload.objects.exists()
    assert _stored_files(recordings_dir) == []


def test_an_upload_is_its_starter_s_alone(
    therapy_session: TherapySession, dr_rivera: User, ehr_client: KeyClient
) -> None:
    upload = _start(ehr_client(Scope.RECORDINGS_UPLOAD), therapy_session, 10)
    rivera = APIClient()
    rivera.force_authenticate(dr_rivera)  # on the care team, but not who started it
    assert rivera.get(f"/api/v1/uploads/{upload['id']}").status_code == 404
    assert _send(rivera, upload["id"], 0, b"0123456789").status_code == 404


def test_a_piece_without_its_offset_is_a_coded_400(
    therapy_session: TherapySession, ehr_client: KeyClient
) -> None:
    ehr = ehr_client(Scope.RECORDINGS_UPLOAD)
    upload = _start(ehr, therapy_session, 10)
    refused = ehr.patch(f"/api/v1/uploads/{upload['id']}", b"0123456789", content_type=PIECE)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_request"


def test_abandoned_uploads_expire_and_a_purge_takes_the_patient_s_with_it(
    patient: Patient,
    therapy_session: TherapySession,
    dr_rivera: User,
    recordings_dir: Path,
    ehr_client: KeyClient,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    ehr = ehr_client(Scope.RECORDINGS_UPLOAD)
    abandoned = _start(ehr, therapy_session, 20)
    _send(ehr, abandoned["id"], 0, b"0123456789")
    kept = upload_start(
        session=therapy_session, filename="b.mp4", size_bytes=20, started_by=dr_rivera
    )

    ResumableUpload.objects.filter(id=abandoned["id"]).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert uploads_expire() == 1
    assert list(ResumableUpload.objects.values_list("id", flat=True)) == [kept.id]
    assert _stored_files(recordings_dir) == []

    upload_piece_add(upload=kept, offset=0, body=io.BytesIO(b"0123456789"))
    assert len(_stored_files(recordings_dir)) == 1, _stored_files(recordings_dir)
    with django_capture_on_commit_callbacks(execute=True):
        counts = patient_purge(patient_id=patient.id)
    assert counts["uploads_in_progress"] == 1
    assert not ResumableUpload.objects.exists()
    assert _stored_files(recordings_dir) == []
