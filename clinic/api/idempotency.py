"""`Idempotency-Key` on the API's writes: a retried request never does its work twice.

Only what succeeded is remembered: a refused or failed write changed nothing, so its retry is
judged afresh (consent may have been given in between).

Decorate a view's POST handler with `@idempotent(...)`; the logic is in
clinic.services.idempotency. Without the header a write runs as usual.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.files.uploadedfile import UploadedFile
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.errors import ErrorCode
from clinic.api.auth import caller
from clinic.api.errors import ApiError
from clinic.services.idempotency import (
    ClaimState,
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_CHARS = 255
KEY_INVALID_MESSAGE = f"{HEADER} must be 1 to {KEY_MAX_CHARS} printable ASCII characters."
KEY_REUSED_MESSAGE = f"This {HEADER} was already used for a different request."
KEY_IN_FLIGHT_MESSAGE = (
    f"A request with this {HEADER} is still being carried out; retry in a moment."
)

Handler = TypeVar("Handler", bound=Callable[..., Response])
PatientOf = Callable[[Any], uuid.UUID | str | None]


def idempotent(*, patient_of: PatientOf | None = None) -> Callable[[Handler], Handler]:
    """`patient_of(answer)` names the patient an answer is about, so that it is purged with
    them; None for answers that name no patient."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return handler(view, request, *args, **kwargs)
            if not (0 < len(key) <= KEY_MAX_CHARS and key.isascii() and key.isprintable()):
                raise ApiError(ErrorCode.IDEMPOTENCY_KEY_INVALID, KEY_INVALID_MESSAGE)
            claim = idempotency_claim(
                caller=caller(request), key=key, fingerprint=_fingerprint(request)
            )
            if claim.state is ClaimState.REUSED:
                raise ApiError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED, KEY_REUSED_MESSAGE, status_code=422
                )
            if claim.state is ClaimState.IN_FLIGHT:
                raise ApiError(
                    ErrorCode.IDEMPOTENCY_KEY_IN_FLIGHT, KEY_IN_FLIGHT_MESSAGE, status_code=409
                )
            assert claim.request_id is not None
            if claim.state is ClaimState.REPLAY:
                assert claim.status_code is not None
                return Response(
                    claim.answer, status=claim.status_code, headers={REPLAYED_HEADER: "true"}
                )
            try:
                response = handler(view, request, *args, **kwargs)
            except BaseException:
                # Refused or failed: nothing was done, so a retry is judged afresh.
                idempotency_release(request_id=claim.request_id)
                raise
            if response.status_code >= 400:
                idempotency_release(request_id=claim.request_id)
                return response
            patient = patient_of(response.data) if patient_of and response.data else None
            idempotency_complete(
                request_id=claim.request_id,
                status_code=response.status_code,
                answer=response.data,
                patient_id=uuid.UUID(str(patient)) if patient else None,
            )
            return response

        return wrapper  # type: ignore[return-value]

    return decorate


def _fingerprint(request: Request) -> str:
    data = request.data
    body = {name: data.getlist(name) for name in data} if hasattr(data, "getlist") else data
    # The standard library's encoder, not orjson: it escapes lone surrogates, which a JSON body
    # may hold and orjson refuses.
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "body": body},
        default=_plain,
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _plain(value: Any) -> Any:
    # An uploaded file by its name and size: reading gigabytes again to hash them would
    # double the cost of every upload.
    if isinstance(value, UploadedFile):
        return {"file": value.name, "size": value.size}
    return str(value)
