"""Channels reaches the real Redis, and the ASGI application routes HTTP to Django."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import HttpCommunicator

from clinic.asgi import application


def test_a_message_sent_to_a_group_arrives_through_redis() -> None:
    layer = get_channel_layer()
    assert layer is not None
    group = f"session-{uuid.uuid4()}"

    async def round_trip() -> dict[str, object]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await layer.group_send(group, {"type": "job.progress", "progress": 40})
        message: dict[str, object] = await layer.receive(channel)
        await layer.group_discard(group, channel)
        return message

    assert async_to_sync(round_trip)() == {"type": "job.progress", "progress": 40}


# serialized_rollback: a plain flush re-creates the role groups (post_migrate) under new ids,
# and the next test that restores the serialized database would then collide with them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_asgi_application_serves_healthz() -> None:
    async def get() -> dict[str, object]:
        communicator = HttpCommunicator(
            application, "GET", "/healthz", headers=[(b"host", b"localhost")]
        )
        response: dict[str, object] = await communicator.get_response(timeout=10)
        return response

    response = async_to_sync(get)()
    assert response["status"] in (200, 503)
    assert b'"database": "ok"' in response["body"]  # type: ignore[operator]
