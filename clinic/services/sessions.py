"""Therapy sessions and the recordings uploaded for them."""

from __future__ import annotations

import hashlib
from datetime import date as Date
from pathlib import PurePath

from django.conf import settings
from django.core.files import File
from django.db import transaction

from clinic.audit import audit_record
from clinic.exceptions import RecordingEmpty, RecordingTooLarge
from clinic.models import Patient, Recording, TherapySession, User

HASH_CHUNK_BYTES = 1024 * 1024


@transaction.atomic
def session_create(
    *, patient: Patient, clinician: User, date: Date, notes: str = ""
) -> TherapySession:
    session = TherapySession.objects.create(
        patient=patient, clinician=clinician, date=date, notes=notes
    )
    audit_record(actor=clinician, action="session.create", obj=session)
    return session


def recording_create(
    *,
    session: TherapySession,
    file: File[bytes],
    uploaded_by: User | None = None,
    content_type: str = "",
) -> Recording:
    """Store an uploaded recording in STORAGES["recordings"] with its checksum and size.

    The file is read once to hash it (streaming, never whole in memory) and once more by the
    storage; the row is written only after the bytes are safely stored, and the stored file is
    removed again if the row cannot be written.
    """
    if file.size is not None and file.size > settings.RECORDING_MAX_BYTES:
        raise RecordingTooLarge()
    digest = hashlib.sha256()
    size_bytes = 0
    file.seek(0)
    for chunk in file.chunks(HASH_CHUNK_BYTES):
        digest.update(chunk)
        size_bytes += len(chunk)
        if size_bytes > settings.RECORDING_MAX_BYTES:
            raise RecordingTooLarge()
    if size_bytes == 0:
        raise RecordingEmpty()
    file.seek(0)
    original_name = PurePath(file.name or "recording").name
    recording = Recording(
        session=session,
        original_name=original_name,
        content_type=content_type or getattr(file, "content_type", "") or "",
        sha256=digest.hexdigest(),
        size_bytes=size_bytes,
        uploaded_by=uploaded_by,
    )
    recording.file.save(original_name, file, save=False)
    try:
        with transaction.atomic():
            recording.save(force_insert=True)
            audit_record(
                actor=uploaded_by,
                action="recording.create",
                obj=recording,
                patient=session.patient_id,
                details={"size_bytes": size_bytes, "sha256": recording.sha256},
            )
    except BaseException:
        recording.file.delete(save=False)
        raise
    return recording
