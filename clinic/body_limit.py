"""Refusing an oversized request body before the web process reads it.

Django reads a request's whole body (spooled to disk past FILE_UPLOAD_MAX_MEMORY_SIZE) before
any view or middleware runs, so a size check in a view comes after the damage: an upload of
150 MB against a 2 MB limit was read in full before its 400. This ASGI wrapper sits in front
of Django and

- answers 413 from the `Content-Length` header alone, reading nothing, when it exceeds what the
  path accepts (a recording upload: RECORDING_MAX_BYTES plus room for the multipart framing; a
  consent with its signed form, over the API or in the admin: SIGNED_FORM_MAX_BYTES; a piece of
  a resumable upload: UPLOAD_PIECE_MAX_BYTES; anything else: REQUEST_BODY_MAX_BYTES);
- counts the bytes as they arrive when the header is absent (chunked) or lies, and stops at the
  limit: Django is told the client went away, so it abandons the body it spooled, and the
  client gets the same 413.

The answer is the API's error shape, so an integrator branches on `recording_too_large` or
`request_too_large` whichever way the size was found out.
"""

from __future__ import annotations

import re

from django.conf import settings

from analysis.errors import ErrorCode
from clinic.asgi_answers import ASGIApp, Message, Receive, Scope, Send, send_json

# The multipart envelope around an upload: boundaries, part headers and the small form fields.
MULTIPART_ALLOWANCE_BYTES = 1024 * 1024
UPLOAD_PATHS = (re.compile(r"^/api/v1/sessions/[^/]+/recordings/?$"),)
UPLOAD_PIECE_PATHS = (re.compile(r"^/api/v1/uploads/[^/]+/?$"),)
SIGNED_FORM_PATHS = (
    re.compile(r"^/api/v1/patients/[^/]+/consents/?$"),
    re.compile(r"^/admin/clinic/consent/"),
)

RECORDING_TOO_LARGE_MESSAGE = "The recording is larger than this installation accepts."
REQUEST_TOO_LARGE_MESSAGE = "The request body is larger than this address accepts."


def body_limit_of(path: str) -> tuple[int, ErrorCode, str]:
    """The most bytes a request to `path` may carry, and what to answer beyond it."""
    if any(pattern.match(path) for pattern in UPLOAD_PATHS):
        limit = settings.RECORDING_MAX_BYTES + MULTIPART_ALLOWANCE_BYTES
        return limit, ErrorCode.RECORDING_TOO_LARGE, RECORDING_TOO_LARGE_MESSAGE
    if any(pattern.match(path) for pattern in UPLOAD_PIECE_PATHS):
        return (
            settings.UPLOAD_PIECE_MAX_BYTES,
            ErrorCode.REQUEST_TOO_LARGE,
            REQUEST_TOO_LARGE_MESSAGE,
        )
    if any(pattern.match(path) for pattern in SIGNED_FORM_PATHS):
        limit = settings.SIGNED_FORM_MAX_BYTES + MULTIPART_ALLOWANCE_BYTES
        return limit, ErrorCode.REQUEST_TOO_LARGE, REQUEST_TOO_LARGE_MESSAGE
    return settings.REQUEST_BODY_MAX_BYTES, ErrorCode.REQUEST_TOO_LARGE, REQUEST_TOO_LARGE_MESSAGE


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodySizeLimit:
    """ASGI middleware for the HTTP application (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, code, message = body_limit_of(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, code, message)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    exceeded = True  # Django drops what it spooled and returns no response
                    return {"type": "http.disconnect"}
            return event

        async def tracking_send(event: Message) -> None:
            nonlocal started
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        await self.app(scope, counting_receive, tracking_send)
        if exceeded and not started:
            await _refuse(send, code, message)


async def _refuse(send: Send, code: ErrorCode, message: str) -> None:
    error = {"error": {"code": str(code), "message": message, "fields": {}}}
    # the client may still be sending: it must not reuse this connection
    await send_json(send, 413, error, close_connection=True)
