"""WebSocket routes. The progress consumer (clinic/consumers.py) adds its route here."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
