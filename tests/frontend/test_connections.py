"""The production server under load keeps a bounded set of database connections, reused.

Sixteen clients send 320 API reads at once to the real server (uvicorn, as in production).
Postgres, asked all along, sees at most the pool's size of connections from it, always the
same ones: no connection per request, and none left to pile up.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from clinic.models import Patient, User

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CLIENTS = 16
REQUESTS = 320
POOL_MAX_SIZE = 8  # settings.DATABASE_POOL_MAX_SIZE's default, the server's pool


def _backends() -> tuple[int, set[int]]:
    """This connection's backend, and every other connected to the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid(), array_agg(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        own, others = cursor.fetchone()
        return own, set(others or ())


def test_a_burst_of_reads_reuses_a_bounded_pool_of_connections(
    server_url: str, dr_rivera: User, patient: Patient
) -> None:
    assert not settings.DATABASE_POOL  # the tests' own process connects directly
    token = Token.objects.create(user=dr_rivera).key
    test_backend, _ = _backends()

    def read(_: int) -> int:
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{server_url}/api/v1/sessions/", headers={"Authorization": f"Token {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return int(answer.status)

    seen: set[int] = set()
    most_at_once = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal most_at_once
        try:
            while not done.is_set():
                _, others = _backends()
                server = others - {test_backend}
                seen.update(server)
                most_at_once = max(most_at_once, len(server))
                time.sleep(0.02)
        finally:
            connection.close()  # this thread's own connection

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as clients:
            statuses = list(clients.map(read, range(REQUESTS)))
    finally:
        done.set()
        watcher.join()

    assert statuses == [200] * REQUESTS
    assert 0 < most_at_once <= POOL_MAX_SIZE
    # the same few connections served every request, rather than one each
    assert len(seen) <= POOL_MAX_SIZE
