"""Recordings uploaded in pieces: start, add a piece at an offset, finish, or let expire.

A piece must start exactly where the upload stands (`received_bytes`); one that does not is
refused with the current offset, which is how a client resumes after a dropped connection or
learns that its retried piece had arrived after all. Pieces are stored encrypted in the
recordings storage as they arrive. Finishing joins them, in a temporary file of the scratch
folder that is removed straight after, and stores the recording as a one-request upload does.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TypeVar

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.audit import audit_record
from clinic.exceptions import (
    RecordingEmpty,
    RecordingTooLarge,
    UploadIncomplete,
    UploadOffsetMismatch,
)
from clinic.models import ResumableUpload, TherapySession, UploadPiece, User
from clinic.models.sessions import recordings_storage
from clinic.storage import stored_files_delete_on_commit

COPY_BLOCK_BYTES = 1024 * 1024
T = TypeVar("T")


def upload_start(
    *, session: TherapySession, filename: str, size_bytes: int, started_by: User
) -> ResumableUpload:
    if size_bytes > settings.RECORDING_MAX_BYTES:
        raise RecordingTooLarge()
    if size_bytes <= 0:
        raise RecordingEmpty()
    upload = ResumableUpload.objects.create(
        session=session,
        created_by=started_by,
        filename=filename,
        size_bytes=size_bytes,
        expires_at=timezone.now() + dt.timedelta(hours=settings.UPLOAD_EXPIRES_H),
    )
    audit_record(
        actor=started_by,
        action="upload.start",
        obj=upload,
        patient=session.patient_id,
        details={"size_bytes": size_bytes},
    )
    return upload


def upload_piece_add(*, upload: ResumableUpload, offset: int, body: IO[bytes]) -> int:
    """Store the piece `body` at `offset`; the bytes received so far."""
    if offset != upload.received_bytes:
        raise UploadOffsetMismatch(upload.received_bytes)
    with tempfile.SpooledTemporaryFile(max_size=COPY_BLOCK_BYTES) as piece:
        size = _copy_at_most(body, piece, upload.size_bytes - offset)
        piece.seek(0)
        name = recordings_storage().save(f"{upload.folder}/{offset:020d}.part", File(piece))
    try:
        with transaction.atomic():
            # Compare-and-swap: of two requests racing with the same piece, one wins.
            moved = ResumableUpload.objects.filter(id=upload.id, received_bytes=offset).update(
                received_bytes=offset + size
            )
            if not moved:
                raise UploadOffsetMismatch(_received(upload))
            UploadPiece.objects.create(upload=upload, offset=offset, size_bytes=size, name=name)
    except (UploadOffsetMismatch, IntegrityError):
        recordings_storage().delete(name)
        raise UploadOffsetMismatch(_received(upload)) from None
    upload.received_bytes = offset + size
    return upload.received_bytes


def _received(upload: ResumableUpload) -> int:
    return int(
        ResumableUpload.objects.filter(id=upload.id)
        .values_list("received_bytes", flat=True)
        .first()
        or 0
    )


def _copy_at_most(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    copied = 0
    while block := source.read(COPY_BLOCK_BYTES):
        copied += len(block)
        if copied > limit:
            raise RecordingTooLarge("The piece runs past the size the upload was started with.")
        target.write(block)
    return copied


def upload_finish(*, upload: ResumableUpload, store: Callable[[UploadedFile[bytes]], T]) -> T:
    """Join the pieces and hand them to `store` (which checks and stores the recording), then
    remove the upload and its pieces."""
    if upload.received_bytes != upload.size_bytes:
        raise UploadIncomplete(
            f"{upload.received_bytes} of {upload.size_bytes} bytes have arrived; send the rest "
            "before finishing."
        )
    with _joined(upload) as joined:
        stored = store(joined)
    upload_discard(upload=upload)
    return stored


@contextmanager
def _joined(upload: ResumableUpload) -> Iterator[UploadedFile[bytes]]:
    scratch = settings.ANALYSIS_SCRATCH_DIR
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".upload") as plain:
        storage = recordings_storage()
        for piece in upload.pieces.order_by("offset"):
            with storage.open(piece.name, "rb") as source:
                shutil.copyfileobj(source, plain, COPY_BLOCK_BYTES)
        plain.flush()
        plain.seek(0)
        yield UploadedFile(
            file=plain, name=upload.filename, size=upload.size_bytes, content_type=""
        )


@transaction.atomic
def upload_discard(*, upload: ResumableUpload) -> None:
    """Remove the upload and, once that commits, its pieces (every file in its folder, so a
    piece stored by a request that died before recording it goes too)."""
    ResumableUpload.objects.filter(id=upload.id).delete()
    _folder_delete_on_commit(upload.folder)


def uploads_discard_of_patient(*, patient_id: uuid.UUID) -> int:
    uploads = ResumableUpload.objects.filter(session__patient_id=patient_id)
    folders = [upload.folder for upload in uploads]
    uploads.delete()
    for folder in folders:
        _folder_delete_on_commit(folder)
    return len(folders)


def uploads_expire(*, at: dt.datetime | None = None) -> int:
    expired = list(ResumableUpload.objects.filter(expires_at__lt=at or timezone.now()))
    for upload in expired:
        upload_discard(upload=upload)
    return len(expired)


def _folder_delete_on_commit(folder: str) -> None:
    storage = recordings_storage()
    try:
        _, names = storage.listdir(folder)
    except FileNotFoundError:
        return
    stored_files_delete_on_commit(storage, [f"{folder}/{name}" for name in names])
