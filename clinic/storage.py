"""Recordings and analysis documents encrypted at rest (see clinic/crypto.py for the format).

`EncryptedFileSystemStorage` is the recordings storage: what it writes to disk is ciphertext,
what `open()` yields is plaintext, seekable, decrypting only the chunks read. Tools that need a
real path (ffmpeg) ask `plaintext_copy()` for a private temporary file that is removed after.

`EncryptedJSONField` keeps a JSON document (a timeline, a transcript) encrypted in a text column;
reads give back the dict, so callers never see the difference. Rows written before encryption
was introduced are still read, and are encrypted the next time they are saved.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

import orjson
from django import forms
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from clinic.crypto import (
    DecryptingReader,
    decrypt_value,
    encrypt_stream,
    encrypt_value,
    value_is_encrypted,
)

# Uploads up to this size are encrypted in memory; larger ones spill to a temporary file.
SPOOL_MAX_BYTES = 8 * 1024 * 1024
COPY_BLOCK_BYTES = 1024 * 1024


class EncryptedFileSystemStorage(FileSystemStorage):
    """A FileSystemStorage whose files are AES-GCM encrypted under per-file data keys."""

    def _save(self, name: str, content: File[Any]) -> str:
        content.seek(0)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as sealed:
            encrypt_stream(cast(IO[bytes], content), cast(IO[bytes], sealed))
            sealed.seek(0)
            return super()._save(name, File(sealed, name=name))  # type: ignore[misc]

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("Encrypted files are written whole through save(), never in place.")
        path = self.path(name)
        handle = open(path, "rb")  # noqa: SIM115 - the reader owns and closes it
        reader = DecryptingReader(handle, os.path.getsize(path))
        return File(cast(IO[bytes], reader), name=name)

    def size(self, name: str) -> int:
        with self._open(name) as file:
            return int(file.size)

    def url(self, name: str | None) -> str:
        raise ValueError("Encrypted recordings have no public URL; stream them through a view.")


def stored_files_delete_on_commit(storage: Storage, names: list[str]) -> None:
    """Delete files from `storage` once the rows that named them are gone for good."""

    def delete() -> None:
        for name in names:
            storage.delete(name)
            _remove_empty_folders(storage, name)

    transaction.on_commit(delete)


def _remove_empty_folders(storage: Storage, name: str) -> None:
    # Folders are named by session or patient id: an empty one still says someone was here.
    if not isinstance(storage, FileSystemStorage):
        return
    root = Path(storage.path("")).resolve()
    folder = Path(storage.path(name)).resolve().parent
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return
        folder = folder.parent


def paths_delete_on_commit(paths: list[str]) -> None:
    """Delete files given by absolute path (stage outputs) once the transaction commits."""

    def delete() -> None:
        for path in paths:
            Path(path).unlink(missing_ok=True)

    transaction.on_commit(delete)


@contextmanager
def plaintext_copy(storage: Storage, name: str, *, suffix: str = "") -> Iterator[Path]:
    """A decrypted copy of `name` in a private temporary folder, deleted on exit.

    For tools that read a path rather than a file object; prefer `storage.open()` otherwise.
    """
    with tempfile.TemporaryDirectory(prefix="moodline-") as folder:
        os.chmod(folder, 0o700)
        target = Path(folder) / f"recording{suffix or Path(name).suffix}"
        with storage.open(name, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, COPY_BLOCK_BYTES)
        yield target


class EncryptedJSONField(models.TextField):
    """A JSON document stored encrypted; reads and writes Python values like JSONField."""

    description = "JSON, encrypted at rest"
    # What django-stubs reads for the Python type of the attribute: any JSON value.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Any:
        return _decode(value)

    def to_python(self, value: Any) -> Any:
        return _decode(value) if isinstance(value, str) and value_is_encrypted(value) else value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt_value(json.dumps(value, cls=DjangoJSONEncoder).encode("utf-8"))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj), cls=DjangoJSONEncoder)

    def formfield(self, **kwargs: Any) -> Any:
        return forms.JSONField(encoder=DjangoJSONEncoder, **kwargs)


def _decode(value: str | None) -> Any:
    return None if value is None else json_decode(json_plaintext(value))


def json_plaintext(value: str) -> bytes:
    """The JSON text an EncryptedJSONField column holds, decrypted (a value written before
    encryption at rest is plain JSON already)."""
    return decrypt_value(value) if value_is_encrypted(value) else value.encode("utf-8")


def json_decode(plain: bytes) -> Any:
    try:
        return orjson.loads(plain)  # several times the standard library's speed
    except orjson.JSONDecodeError:
        return json.loads(plain)  # NaN or Infinity, which only the standard library reads
