"""Recordings and analysis documents are ciphertext on disk and in the database.

What a clinician streams is the plaintext, range by range, decrypting only the chunks a range
touches; damaged or truncated files refuse to decrypt; a master key can be rotated.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from clinic.crypto import (
    CHUNK_PLAINTEXT_BYTES,
    HEADER_BYTES,
    MAGIC,
    DecryptingReader,
    DecryptionError,
    encrypt_stream,
    new_master_key,
    rewrap_file_header,
)
from clinic.demo_media import ClipOptions, demo_clip_write
from clinic.models import Recording, TherapySession, TimelineResult, User
from clinic.services.encryption import encryption_rewrap
from clinic.storage import plaintext_copy
from tests.clinic.analysed import TRANSCRIPT_TEXT, analyse
from tests.clinic.timeline_factory import timeline_document
from tests.factories import RecordingFactory

pytestmark = pytest.mark.django_db

PROBE_BYTES = 32  # a window of plaintext this long appearing on disk would be a leak
LONG_CLIP_SECONDS = 10.0  # about 120 KB: two 64 KiB chunks


def _ciphertext_on_disk(recording: Recording, recordings_dir: Path) -> bytes:
    files = [path for path in recordings_dir.rglob("*") if path.is_file()]
    assert [path.name for path in files] == [Path(str(recording.file.name)).name]
    return files[0].read_bytes()


def test_a_recordings_bytes_on_disk_do_not_contain_its_plaintext(
    recording: Recording, recordings_dir: Path, session_clip: Path
) -> None:
    plaintext = session_clip.read_bytes()
    stored = _ciphertext_on_disk(recording, recordings_dir)

    assert stored.startswith(MAGIC)
    for offset in range(0, len(plaintext) - PROBE_BYTES, len(plaintext) // 50):
        assert plaintext[offset : offset + PROBE_BYTES] not in stored
    # The MP4 signature that any file tool would recognise is nowhere to be seen.
    assert b"ftyp" not in stored
    with recording.file.open("rb") as handle:
        assert handle.read() == plaintext
    assert hashlib.sha256(plaintext).hexdigest() == recording.sha256


def test_the_player_gets_a_byte_range_and_only_the_chunks_it_needs_are_decrypted(
    client: Client,
    dr_rivera: User,
    therapy_session: TherapySession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clip = demo_clip_write(tmp_path / "long.mp4", ClipOptions(duration_s=LONG_CLIP_SECONDS))
    recording = RecordingFactory.create(session=therapy_session, clip=clip.path)
    plaintext = clip.path.read_bytes()
    assert len(plaintext) > CHUNK_PLAINTEXT_BYTES + 2000, "the clip must span two chunks"
    decrypted: list[int] = []
    original_chunk = DecryptingReader._chunk

    def counting_chunk(self: DecryptingReader, index: int) -> bytes:
        decrypted.append(index)
        return original_chunk(self, index)

    monkeypatch.setattr(DecryptingReader, "_chunk", counting_chunk)
    client.force_login(dr_rivera)
    start = CHUNK_PLAINTEXT_BYTES + 1000
    response = client.get(
        f"/recordings/{recording.id}/media", HTTP_RANGE=f"bytes={start}-{start + 99}"
    )

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{start + 99}/{len(plaintext)}"
    assert b"".join(response.streaming_content) == plaintext[start : start + 100]  # type: ignore[attr-defined]
    assert set(decrypted) == {1}


def test_the_recordings_storage_offers_no_public_url(recording: Recording) -> None:
    with pytest.raises(ValueError, match="no public URL"):
        recording.file.url  # noqa: B018


def test_the_pipeline_gets_a_private_plaintext_copy_that_disappears_afterwards(
    recording: Recording, session_clip: Path
) -> None:
    with plaintext_copy(recording.file.storage, str(recording.file.name)) as copy:
        assert copy.read_bytes() == session_clip.read_bytes()
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
    assert not copy.exists()


def _sealed(plaintext: bytes) -> bytes:
    target = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), target, chunk_size=1024)
    return target.getvalue()


def _open(sealed: bytes) -> bytes:
    return DecryptingReader(io.BytesIO(sealed), len(sealed)).read()


def test_a_tampered_or_truncated_file_refuses_to_decrypt() -> None:
    plaintext = bytes(range(256)) * 20  # five chunks of 1 KiB
    sealed = _sealed(plaintext)
    assert _open(sealed) == plaintext

    flipped = bytearray(sealed)
    flipped[HEADER_BYTES + 2000] ^= 0x01
    with pytest.raises(DecryptionError):
        _open(bytes(flipped))
    # Dropping the whole last chunk leaves a file whose new last chunk was not sealed as last.
    with pytest.raises(DecryptionError):
        _open(sealed[: -(1024 + 16)])


def test_a_rotated_master_key_keeps_old_files_readable_until_they_are_rewrapped(
    settings: Any,
) -> None:
    old_key, new_key = new_master_key(), new_master_key()
    settings.MOODLINE_ENCRYPTION_KEYS = old_key
    sealed = bytearray(_sealed(b"session audio" * 300))

    settings.MOODLINE_ENCRYPTION_KEYS = f"{new_key},{old_key}"
    assert _open(bytes(sealed)) == b"session audio" * 300
    handle = io.BytesIO(sealed)
    assert rewrap_file_header(handle)
    rewrapped = handle.getvalue()

    settings.MOODLINE_ENCRYPTION_KEYS = new_key
    assert _open(rewrapped) == b"session audio" * 300
    settings.MOODLINE_ENCRYPTION_KEYS = old_key
    with pytest.raises(DecryptionError, match="not configured"):
        _open(rewrapped)


def test_timelines_and_transcripts_are_ciphertext_in_the_database(
    recording: Recording, tmp_path: Path
) -> None:
    analyse(recording, modalities=["face", "voice", "text"], workdir=tmp_path)
    with connection.cursor() as cursor:
        cursor.execute("SELECT document FROM clinic_timelineresult")
        documents = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT output FROM clinic_stageresult WHERE stage = 'transcript'")
        transcripts = [row[0] for row in cursor.fetchall()]

    assert len(documents) == len(transcripts) == 1
    assert documents[0].startswith("mle1:")
    assert "valence" not in documents[0]
    assert transcripts[0].startswith("mle1:")
    assert "slept" not in transcripts[0]
    timeline = TimelineResult.objects.get(recording=recording)
    assert timeline.document == timeline_document()
    transcript = recording.jobs.get().stage_results.get(stage="transcript").output
    assert transcript is not None
    assert transcript["utterances"][0]["text"] == TRANSCRIPT_TEXT


def test_key_rotation_rewraps_recordings_and_documents(
    settings: Any, recording: Recording, tmp_path: Path, session_clip: Path
) -> None:
    analyse(recording, modalities=["voice"], workdir=tmp_path)
    old_key = settings.MOODLINE_ENCRYPTION_KEYS
    new_key = new_master_key()
    settings.MOODLINE_ENCRYPTION_KEYS = f"{new_key},{old_key}"

    assert encryption_rewrap() == {"files": 1, "documents": 4}

    settings.MOODLINE_ENCRYPTION_KEYS = new_key
    with recording.file.open("rb") as handle:
        assert handle.read() == session_clip.read_bytes()
    assert TimelineResult.objects.get(recording=recording).document == timeline_document()
