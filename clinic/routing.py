"""WebSocket routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from clinic.consumers import ProgressConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/sessions/<uuid:session_id>/progress/", ProgressConsumer.as_asgi()),
]
