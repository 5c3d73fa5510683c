"""Timeline documents kept a while in this process, decrypted, so that a zoom need not re-read them.

An hour of stored timeline is ~1.6 MB of ciphertext; fetching and decrypting it is most of what a
zoom or a FHIR export costs. The review page asks for one range after another of the same
session, so each process keeps the plaintext JSON of the documents (and overviews) it read last,
within a memory budget (MOODLINE_TIMELINE_CACHE_MB) and for a while
(MOODLINE_TIMELINE_CACHE_TTL_S), and each request decodes its own copy (orjson: ~6 ms an hour).
What a read works out from a whole document (a range index, FHIR resources: `timeline_derived`)
is kept the same way, under the same key and budget.

Why JSON text and not the decoded objects: an hour decodes to ~4.3 MiB of small Python objects,
and every full garbage collection walks all of them. With 20 hours held, a web process under
load paused 17-220 ms ten times in twelve seconds, and the session list's p95 doubled. Bytes
are not tracked by the collector, take a quarter of the memory, and each request's decoded copy
is its own: no request can change what another reads.

Why it cannot serve the wrong timeline:

- It is asked only about a row the caller has just found through an access-checked query
  (clinic.access, then `timelines_without_documents`): it answers "what does this row hold",
  never "who may see it".
- Entries are keyed by the row's id and its Postgres row version (`xmin` and `ctid`), which
  changes with every write to the row, whichever code makes it; a re-analysis (new speaker
  roles, say) stores a new row. A replaced, changed or deleted timeline is therefore never found
  here: the caller's query has already read the current row and its version.
- It lives in this process's memory only; decrypted PHI never goes to Redis or any shared cache.
- A deleted timeline (consent revoked, patient purged) leaves this process's memory at once
  (a `post_delete` receiver); other web processes drop it within the time to live, never
  serving it meanwhile (the point above).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from cachetools import TTLCache
from django.conf import settings
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.db.models.signals import post_delete
from django.dispatch import receiver

from clinic.models import TimelineResult
from clinic.storage import json_decode, json_plaintext

BYTES_PER_MIB = 1024 * 1024

# (timeline id, row version, "document" or "overview") -> the column's plaintext JSON;
# (timeline id, row version, kind) -> what `timeline_derived` built of that kind
CacheKey = tuple[uuid.UUID, str, str]


def timeline_row_version() -> RawSQL:
    """Which version of the row this is: Postgres's `xmin` (the transaction that wrote it) and
    `ctid` (where that version lies). Every write makes a new version with a new ctid, even a
    second write in the same transaction; a ctid is reused only by a later transaction."""
    # System columns, which Django has no field for. No input reaches this SQL.
    table = f'"{TimelineResult._meta.db_table}"'
    return RawSQL(f"{table}.xmin::text || '/' || {table}.ctid::text", ())  # noqa: S611


def timelines_without_documents() -> QuerySet[TimelineResult]:
    """Timelines without their document and overview (read those only when needed: an hour is a
    megabyte to decrypt), annotated with the row version the document cache is keyed by."""
    return TimelineResult.objects.defer("document", "overview").annotate(
        row_version=timeline_row_version()
    )


def timeline_document(*, timeline: TimelineResult) -> dict[str, Any] | None:
    """The decoded document of `timeline`; None if the row was deleted since it was read.

    `timeline` should come from `timelines_without_documents()`, after the access check. The
    document is this call's own copy.
    """
    if "document" in timeline.__dict__:  # loaded with the row already
        return timeline.document
    return _decoded(timeline, "document")


def timeline_stored_overview(*, timeline: TimelineResult) -> Any:
    """The stored overview of `timeline` as stored (None if there is none, or the row is gone),
    kept in this process like the document: the review page opens with it."""
    if "overview" in timeline.__dict__:
        return timeline.overview
    return _decoded(timeline, "overview")


def _decoded(timeline: TimelineResult, column: str) -> Any:
    plaintext = _plaintext(timeline, column)
    return None if plaintext is None else json_decode(plaintext)


def _held(timeline: TimelineResult, kind: str) -> bytes | Derived | None:
    """What this process keeps of `kind` for the row version `timeline` was read at."""
    cache = _cache()
    version: str | None = getattr(timeline, "row_version", None)
    if cache is None or version is None:
        return None
    with _LOCK:
        return cache.get((timeline.id, version, kind))


def _plaintext(timeline: TimelineResult, column: str) -> bytes | None:
    held = _held(timeline, column)
    if isinstance(held, bytes):
        return held
    found = _stored_plaintext(timeline, column)
    if found is None:
        return None
    plaintext, stored_version = found
    _keep((timeline.id, stored_version, column), plaintext)
    return plaintext


def _stored_plaintext(timeline: TimelineResult, column: str) -> tuple[bytes, str] | None:
    """The column's plaintext as stored now, with the row version it was read at."""
    row = (
        TimelineResult.objects.filter(id=timeline.id)
        # the stored text itself, not the field's decoded value
        .annotate(row_version=timeline_row_version(), stored=Cast(column, TextField()))
        .values_list("stored", "row_version")
        .first()
    )
    if row is None or row[0] is None:
        return None
    stored, stored_version = row
    return json_plaintext(stored), stored_version


class Derived(Protocol):
    """Something worked out from a document and kept in its place (see `timeline_derived`)."""

    @property
    def nbytes(self) -> int: ...


_Built = TypeVar("_Built", bound=Derived)


def timeline_derived(
    *,
    timeline: TimelineResult,
    kind: str,
    build: Callable[[bytes], _Built],
    column: str = "document",
) -> _Built | None:
    """What `build` makes of the plaintext of `timeline`'s document (or overview: `column`),
    kept in this process under the row's version like the document itself (None if the row was
    deleted since it was read, or the column is empty).

    `timeline` should come from `timelines_without_documents()`, after the access check. What is
    kept is shared by the requests of this process: `build` must make something read-only. The
    plaintext it was built from is not kept beside it.
    """
    held = _held(timeline, kind)
    if held is not None and not isinstance(held, bytes):
        return cast(_Built, held)
    found = _stored_plaintext(timeline, column)
    if found is None:
        return None
    plaintext, stored_version = found
    derived = build(plaintext)
    _keep((timeline.id, stored_version, kind), derived)
    return derived


def _keep(key: CacheKey, value: bytes | Derived) -> None:
    cache = _cache()
    if cache is None:
        return
    # Kept under the version just read with it, which may be newer than the caller's.
    # cachetools refuses (ValueError) a value larger than the whole budget: served, not kept
    with _LOCK, contextlib.suppress(ValueError):
        cache[key] = value


_LOCK = threading.Lock()  # cachetools caches are not thread-safe


def _cache() -> TTLCache[CacheKey, bytes | Derived] | None:
    budget_mib = int(settings.MOODLINE_TIMELINE_CACHE_MB)
    if budget_mib <= 0:
        return None
    return _cache_for(budget_mib * BYTES_PER_MIB, int(settings.MOODLINE_TIMELINE_CACHE_TTL_S))


def timeline_documents_forget(timeline_ids: set[uuid.UUID]) -> int:
    """Drop the decoded documents of these timelines from this process; how many were held."""
    cache = _cache()
    if cache is None:
        return 0
    with _LOCK:
        held = [key for key in list(cache.keys()) if key[0] in timeline_ids]
        for key in held:
            cache.pop(key, None)
    return len(held)


@receiver(post_delete, sender=TimelineResult)
def _forget_deleted(sender: type[TimelineResult], instance: TimelineResult, **_: Any) -> None:
    timeline_documents_forget({instance.id})


def _size(value: bytes | Derived) -> int:
    return len(value) if isinstance(value, bytes) else value.nbytes


@functools.cache
def _cache_for(max_bytes: int, ttl_s: int) -> TTLCache[CacheKey, bytes | Derived]:
    # Least recently used first out when the budget is full; none kept past its time to live.
    return TTLCache(maxsize=max_bytes, ttl=ttl_s, getsizeof=_size)
