"""Writes sent with an `Idempotency-Key`: the first is carried out, a retry gets its answer.

A key is the caller's own (two callers may use the same string). A retry must be the same
request (method, path and body); reusing a key for a different request is refused rather than
answered with another request's result. While the first is still running, a retry is told so
(409) instead of running it twice. Answers are kept IDEMPOTENCY_KEY_TTL_H hours, encrypted,
and go with the patient they name when that patient is purged.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import IdempotentRequest, User

# A claim this old with no answer was left by a process that died mid-request.
ABANDONED_AFTER = dt.timedelta(hours=1)


class ClaimState(enum.Enum):
    FIRST = "first"  # carry the request out, then `idempotency_complete` or `_release`
    REPLAY = "replay"  # answered before: send `answer` again
    REUSED = "reused"  # the key was used for a different request
    IN_FLIGHT = "in_flight"  # the first is still running


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    request_id: uuid.UUID | None = None
    status_code: int | None = None
    answer: Any = None


def idempotency_claim(*, caller: User, key: str, fingerprint: str) -> Claim:
    now = timezone.now()
    try:
        with transaction.atomic():
            row = IdempotentRequest.objects.create(
                caller=caller, key=key, fingerprint=fingerprint, created_at=now
            )
        return Claim(ClaimState.FIRST, request_id=row.id)
    except IntegrityError:
        pass
    existing = IdempotentRequest.objects.filter(caller=caller, key=key).first()
    if existing is None:  # expired between the two statements: try once more
        return idempotency_claim(caller=caller, key=key, fingerprint=fingerprint)
    if existing.fingerprint != fingerprint:
        return Claim(ClaimState.REUSED)
    if existing.status_code is None:
        taken_over = IdempotentRequest.objects.filter(
            id=existing.id, status_code__isnull=True, created_at__lt=now - ABANDONED_AFTER
        ).update(created_at=now)
        if taken_over:
            return Claim(ClaimState.FIRST, request_id=existing.id)
        return Claim(ClaimState.IN_FLIGHT)
    return Claim(
        ClaimState.REPLAY,
        request_id=existing.id,
        status_code=existing.status_code,
        answer=existing.response,
    )


def idempotency_complete(
    *, request_id: uuid.UUID, status_code: int, answer: Any, patient_id: uuid.UUID | None
) -> None:
    IdempotentRequest.objects.filter(id=request_id).update(
        status_code=status_code,
        response=answer,
        patient_id=patient_id,
    )


def idempotency_release(*, request_id: uuid.UUID) -> None:
    """The first attempt failed on our side: a retry may carry the request out afresh."""
    IdempotentRequest.objects.filter(id=request_id, status_code__isnull=True).delete()


def idempotency_keys_expire(*, at: dt.datetime | None = None) -> int:
    cutoff = (at or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_H)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
