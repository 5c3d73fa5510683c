"""Uploading a recording stores the real bytes with their checksum, and nothing else."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile

from clinic.exceptions import RecordingEmpty, RecordingTooLarge
from clinic.models import AuditEvent, Recording, TherapySession, User
from clinic.services import recording_create

pytestmark = pytest.mark.django_db


def test_a_recording_is_stored_with_its_sha256_and_size(
    recording: Recording, session_clip: Path, recordings_dir: Path
) -> None:
    clip_bytes = session_clip.read_bytes()
    assert recording.sha256 == hashlib.sha256(clip_bytes).hexdigest()
    assert recording.size_bytes == len(clip_bytes)
    assert recording.status == Recording.Status.UPLOADED
    with recording.file.open("rb") as stored:
        assert stored.read() == clip_bytes
    stored_path = Path(recording.file.path)
    assert stored_path.is_relative_to(recordings_dir)
    # The path is made of ids only; the uploaded name is kept in the row, not on disk.
    assert stored_path.name == f"{recording.id}.mp4"
    assert recording.original_name == "session.mp4"
    assert AuditEvent.objects.filter(
        action="recording.create",
        object_id=str(recording.id),
        patient_id=recording.session.patient_id,
    ).exists()


def test_an_empty_upload_is_refused(therapy_session: TherapySession, dr_rivera: User) -> None:
    with pytest.raises(RecordingEmpty):
        recording_create(
            session=therapy_session, file=ContentFile(b"", name="empty.mp4"), uploaded_by=dr_rivera
        )
    assert not Recording.objects.exists()


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_stored(
    therapy_session: TherapySession, settings: Any, recordings_dir: Path
) -> None:
    settings.RECORDING_MAX_BYTES = 1000
    with pytest.raises(RecordingTooLarge):
        recording_create(session=therapy_session, file=ContentFile(b"x" * 1001, name="big.mp4"))
    assert not Recording.objects.exists()
    assert not recordings_dir.exists() or not any(recordings_dir.rglob("*.mp4"))
