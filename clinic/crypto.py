"""Envelope encryption at rest: a random data key per file or value, wrapped by a master key.

Master keys come from `MOODLINE_ENCRYPTION_KEYS` (comma-separated, each 32 random bytes in
URL-safe base64). The first key wraps new data keys; the others still unwrap old ones, which is
how a key is rotated (docs/security.md): put the new key first, run
`manage.py encryption_rewrap`, then drop the old key.

A file is stored in a chunked AES-256-GCM format so that a byte range can be read by decrypting
only the chunks it touches::

    header  = MAGIC(4) | chunk_size u32 | key_id(8) | wrapped data key(12 nonce + 32 + 16 tag)
    chunk i = AES-GCM(data key, nonce = i as 12 bytes, aad = MAGIC | chunk_size | i u64 | last)

Every chunk but the last holds exactly `chunk_size` plaintext bytes; the `last` flag in the
authenticated data makes a truncated file fail to decrypt instead of looking shorter. Nonces
can count from zero because every file has its own data key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"MLE1"
CHUNK_PLAINTEXT_BYTES = 64 * 1024
KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_HEADER = struct.Struct(f">4sI{KEY_ID_BYTES}s{WRAPPED_KEY_BYTES}s")
HEADER_BYTES = _HEADER.size
# Values (JSON documents) are stored as text: this prefix, then base64 of one encrypted blob.
VALUE_PREFIX = "mle1:"
_WRAP_AAD = b"moodline data key"


class DecryptionError(Exception):
    """Ciphertext that is damaged, truncated, or wrapped by a key we no longer hold."""


@dataclass(frozen=True)
class MasterKey:
    key_id: bytes  # first bytes of the key's SHA-256: names the key without revealing it
    aead: AESGCM


@dataclass(frozen=True)
class Keyring:
    active: MasterKey  # wraps every new data key
    by_id: dict[bytes, MasterKey]  # every key that may unwrap an old one, the active one too


def keyring_from_setting(value: str) -> Keyring:
    """Parse `MOODLINE_ENCRYPTION_KEYS`; the first key is the active one."""
    keys: list[MasterKey] = []
    for position, text in enumerate(part.strip() for part in value.split(",")):
        if not text:
            continue
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as error:
            raise ImproperlyConfigured(
                f"MOODLINE_ENCRYPTION_KEYS key {position + 1} is not base64."
            ) from error
        if len(raw) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"MOODLINE_ENCRYPTION_KEYS key {position + 1} must be {KEY_BYTES} bytes."
            )
        keys.append(MasterKey(hashlib.sha256(raw).digest()[:KEY_ID_BYTES], AESGCM(raw)))
    if not keys:
        raise ImproperlyConfigured("MOODLINE_ENCRYPTION_KEYS holds no key.")
    return Keyring(active=keys[0], by_id={key.key_id: key for key in keys})


def new_master_key() -> str:
    """A fresh master key in the form MOODLINE_ENCRYPTION_KEYS expects."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii").rstrip("=")


@cache
def _keyring_for(value: str) -> Keyring:
    return keyring_from_setting(value)


def keyring() -> Keyring:
    """The keyring of the current settings (cached per setting value)."""
    return _keyring_for(str(settings.MOODLINE_ENCRYPTION_KEYS))


# --- Data keys ----------------------------------------------------------------------------------


def _wrap(data_key: bytes, ring: Keyring) -> tuple[bytes, bytes]:
    nonce = os.urandom(NONCE_BYTES)
    aad = _WRAP_AAD + ring.active.key_id
    return ring.active.key_id, nonce + ring.active.aead.encrypt(nonce, data_key, aad)


def _unwrap(key_id: bytes, wrapped: bytes, ring: Keyring) -> bytes:
    master = ring.by_id.get(key_id)
    if master is None:
        raise DecryptionError("The data key was wrapped by a master key that is not configured.")
    try:
        return master.aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_AAD + key_id)
    except InvalidTag as error:
        raise DecryptionError("The wrapped data key does not authenticate.") from error


def _chunk_aad(chunk_size: int, index: int, last: bool) -> bytes:
    return MAGIC + struct.pack(">IQ?", chunk_size, index, last)


def _chunk_nonce(index: int) -> bytes:
    return index.to_bytes(NONCE_BYTES, "big")


# --- Files --------------------------------------------------------------------------------------


def encrypt_stream(
    source: IO[bytes], target: IO[bytes], *, chunk_size: int = CHUNK_PLAINTEXT_BYTES
) -> int:
    """Encrypt `source` into `target` chunk by chunk; returns the plaintext size in bytes."""
    ring = keyring()
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    key_id, wrapped = _wrap(data_key, ring)
    target.write(_HEADER.pack(MAGIC, chunk_size, key_id, wrapped))
    aead = AESGCM(data_key)
    total = 0
    index = 0
    current = _read_exactly(source, chunk_size)
    while True:
        following = _read_exactly(source, chunk_size) if len(current) == chunk_size else b""
        last = not following
        aad = _chunk_aad(chunk_size, index, last)
        target.write(aead.encrypt(_chunk_nonce(index), current, aad))
        total += len(current)
        if last:
            return total
        current = following
        index += 1


def _read_exactly(source: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = source.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


@dataclass(frozen=True)
class _Layout:
    chunk_size: int  # plaintext bytes per chunk (all but the last are full)
    chunk_count: int
    plaintext_size: int  # bytes after decryption
    data_key: bytes


def _layout(handle: IO[bytes], ciphertext_size: int) -> _Layout:
    handle.seek(0)
    header = handle.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES:
        raise DecryptionError("The file is too short to be encrypted.")
    magic, chunk_size, key_id, wrapped = _HEADER.unpack(header)
    if magic != MAGIC or chunk_size <= 0:
        raise DecryptionError("The file is not in the encrypted format.")
    body = ciphertext_size - HEADER_BYTES
    record = chunk_size + TAG_BYTES
    chunk_count = max(1, -(-body // record))
    plaintext_size = body - chunk_count * TAG_BYTES
    if plaintext_size < 0:
        raise DecryptionError("The encrypted file is truncated.")
    return _Layout(chunk_size, chunk_count, plaintext_size, _unwrap(key_id, wrapped, keyring()))


class DecryptingReader(io.RawIOBase):
    """A seekable, read-only plaintext view of an encrypted file; reads decrypt only the
    chunks they touch, so a range request near the end costs one or two chunks."""

    def __init__(self, handle: IO[bytes], ciphertext_size: int) -> None:
        super().__init__()
        self._handle = handle
        self._layout = _layout(handle, ciphertext_size)
        self._aead = AESGCM(self._layout.data_key)
        self._position = 0
        self._cached_index = -1
        self._cached_plaintext = b""

    @property
    def size(self) -> int:
        return self._layout.plaintext_size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._position >= self.size or not len(view):
            return 0
        index, within = divmod(self._position, self._layout.chunk_size)
        plaintext = self._chunk(index)
        count = min(len(view), len(plaintext) - within)
        view[:count] = plaintext[within : within + count]
        self._position += count
        return count

    def _chunk(self, index: int) -> bytes:
        if index != self._cached_index:
            layout = self._layout
            record = layout.chunk_size + TAG_BYTES
            self._handle.seek(HEADER_BYTES + index * record)
            sealed = self._handle.read(record)
            last = index == layout.chunk_count - 1
            try:
                plaintext = self._aead.decrypt(
                    _chunk_nonce(index), sealed, _chunk_aad(layout.chunk_size, index, last)
                )
            except InvalidTag as error:
                raise DecryptionError(f"Chunk {index} does not authenticate.") from error
            self._cached_index, self._cached_plaintext = index, plaintext
        return self._cached_plaintext

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
        super().close()


def iter_plaintext_range(
    reader: DecryptingReader, start: int, end_inclusive: int, *, block_bytes: int
) -> Iterator[bytes]:
    """Plaintext bytes start..end_inclusive, in blocks: what a 206 response streams."""
    reader.seek(start)
    remaining = end_inclusive - start + 1
    while remaining > 0:
        block = reader.read(min(block_bytes, remaining))
        if not block:
            return
        remaining -= len(block)
        yield block


def rewrap_file_header(handle: IO[bytes]) -> bool:
    """Re-wrap a file's data key under the active master key, in place; False if it already was.

    Only the header changes: the chunks stay encrypted under the same data key.
    """
    ring = keyring()
    handle.seek(0)
    magic, chunk_size, key_id, wrapped = _HEADER.unpack(handle.read(HEADER_BYTES))
    if magic != MAGIC:
        raise DecryptionError("The file is not in the encrypted format.")
    if key_id == ring.active.key_id:
        return False
    new_key_id, new_wrapped = _wrap(_unwrap(key_id, wrapped, ring), ring)
    handle.seek(0)
    handle.write(_HEADER.pack(MAGIC, chunk_size, new_key_id, new_wrapped))
    return True


# --- Values -------------------------------------------------------------------------------------


def encrypt_value(plaintext: bytes) -> str:
    """Encrypt a small value (a JSON document) to text that fits a database column."""
    sealed = io.BytesIO()
    encrypt_stream(io.BytesIO(plaintext), sealed, chunk_size=max(1, len(plaintext)))
    return VALUE_PREFIX + base64.b64encode(sealed.getvalue()).decode("ascii")


def decrypt_value(text: str) -> bytes:
    if not text.startswith(VALUE_PREFIX):
        raise DecryptionError("The value is not encrypted.")
    sealed = base64.b64decode(text[len(VALUE_PREFIX) :])
    reader = DecryptingReader(io.BytesIO(sealed), len(sealed))
    return reader.read()


def value_is_encrypted(text: str) -> bool:
    return text.startswith(VALUE_PREFIX)
