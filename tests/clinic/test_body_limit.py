"""An oversized upload is refused before the web process reads it (clinic.body_limit).

These drive the real ASGI application (Django behind the limit), as the server does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest

from clinic.asgi import application
from clinic.body_limit import BodySizeLimit

CHUNK = 64 * 1024
UPLOAD_PATH = "/api/v1/sessions/5b0f2a56-61a4-4bd0-8a0e-7d4a3e0f1a11/recordings/"


class Client:
    """Feeds a body in chunks, counting how many the application asked for."""

    def __init__(self, chunks: int) -> None:
        self.chunks_left = chunks
        self.chunks_read = 0
        self.sent: list[MutableMapping[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.chunks_left == 0:
            await asyncio.sleep(3600)  # a client that sent all it had and now waits
        self.chunks_left -= 1
        self.chunks_read += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": self.chunks_left > 0}

    async def send(self, event: MutableMapping[str, Any]) -> None:
        self.sent.append(event)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def error(self) -> dict[str, Any]:
        body = b"".join(e.get("body", b"") for e in self.sent[1:])
        error: dict[str, Any] = json.loads(body)["error"]
        return error


def _scope(path: str, content_length: int | None) -> dict[str, Any]:
    headers = [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=b")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def _call(app: Any, scope: dict[str, Any], client: Client) -> None:
    asyncio.run(asyncio.wait_for(app(scope, client.receive, client.send), timeout=30))


def test_an_upload_over_the_limit_is_refused_from_its_content_length_without_reading_it(
    settings: Any,
) -> None:
    settings.RECORDING_MAX_BYTES = 2 * 1024 * 1024
    client = Client(chunks=150 * 1024 * 1024 // CHUNK)  # the probe's 150 MB upload
    _call(application, _scope(UPLOAD_PATH, 150 * 1024 * 1024), client)
    assert client.chunks_read == 0
    assert client.status == 413
    assert client.error["code"] == "recording_too_large"


def test_an_upload_whose_content_length_lies_is_cut_off_at_the_limit(settings: Any) -> None:
    settings.RECORDING_MAX_BYTES = 2 * 1024 * 1024
    client = Client(chunks=150 * 1024 * 1024 // CHUNK)
    _call(application, _scope(UPLOAD_PATH, 1000), client)
    limit_chunks = (settings.RECORDING_MAX_BYTES + 1024 * 1024) // CHUNK
    assert client.chunks_read <= limit_chunks + 1
    assert client.status == 413
    assert client.error["code"] == "recording_too_large"


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(settings: Any) -> None:
    settings.REQUEST_BODY_MAX_BYTES = 256 * 1024
    client = Client(chunks=1000)
    _call(application, _scope("/api/v1/patients/", None), client)
    assert client.chunks_read <= 256 * 1024 // CHUNK + 1
    assert client.status == 413
    assert client.error["code"] == "request_too_large"


def test_other_requests_have_the_smaller_limit(settings: Any) -> None:
    settings.REQUEST_BODY_MAX_BYTES = 1024 * 1024
    client = Client(chunks=1)
    _call(application, _scope("/api/v1/patients/", 5 * 1024 * 1024), client)
    assert (client.chunks_read, client.status) == (0, 413)
    assert client.error["code"] == "request_too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/5b0f2a56-61a4-4bd0-8a0e-7d4a3e0f1a11/consents/",
        "/admin/clinic/consent/add/",
    ],
)
def test_a_signed_consent_form_may_be_larger_than_other_bodies(settings: Any, path: str) -> None:
    settings.REQUEST_BODY_MAX_BYTES = 1024 * 1024
    settings.SIGNED_FORM_MAX_BYTES = 20 * 1024 * 1024
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scanned_form = Client(chunks=1)
    _call(BodySizeLimit(inner), _scope(path, 8 * 1024 * 1024), scanned_form)
    assert (seen, scanned_form.status) == ([path], 201)
    too_large = Client(chunks=1)
    _call(BodySizeLimit(inner), _scope(path, 30 * 1024 * 1024), too_large)
    assert too_large.status == 413


@pytest.mark.parametrize("chunks", [1, 40])
def test_a_body_within_the_limit_reaches_the_application_whole(settings: Any, chunks: int) -> None:
    settings.RECORDING_MAX_BYTES = 4 * 1024 * 1024
    seen: list[int] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        total, more = 0, True
        while more:
            event = await receive()
            total += len(event["body"])
            more = event["more_body"]
        seen.append(total)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = Client(chunks=chunks)
    _call(BodySizeLimit(inner), _scope(UPLOAD_PATH, chunks * CHUNK), client)
    assert seen == [chunks * CHUNK]
    assert client.status == 201
