"""API clients holding an integration's keys (the fixtures are in tests/clinic/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from clinic.scopes import Scope

ALL_SCOPES = tuple(Scope)
KeyClient = Callable[..., APIClient]


def client_with(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client
