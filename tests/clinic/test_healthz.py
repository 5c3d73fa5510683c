"""/healthz says whether the database, Redis and a worker are up, and names what is down."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clinic.health import health_cache_clear
from clinic.heartbeat import HEARTBEAT_KEY_PREFIX, heartbeat_beat, redis_client
from clinic.settings import redis_addresses
from tests.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_reports(settings: Any) -> None:
    settings.HEALTH_CACHE_S = 0  # each request below must see the state it just set up
    health_cache_clear()


@pytest.fixture
def no_heartbeats() -> Iterator[redis.Redis]:
    client = redis_client()
    for key in client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*"):
        client.delete(key)
    yield client
    for key in client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def own_redis(settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis server of this test's own, which the test may stop; the app points at it."""
    server_binary = shutil.which("redis-server")
    if server_binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [
            server_binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client: redis.Redis = redis.Redis.from_url(url)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    settings.REDIS = redis_addresses(url)
    yield server
    server.terminate()
    server.wait(timeout=10)


def test_all_green_when_a_worker_beats(client: Client, no_heartbeats: redis.Redis) -> None:
    heartbeat_beat(no_heartbeats, "worker@test")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok", "worker": "ok"}


def test_no_worker_heartbeat_means_worker_down(client: Client, no_heartbeats: redis.Redis) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"].startswith("down")
    assert response.json()["redis"] == "ok"


def test_a_stopped_redis_is_reported_down(
    client: Client, own_redis: subprocess.Popen[bytes]
) -> None:
    heartbeat_beat(redis_client(), "worker@test")
    assert client.get("/healthz").status_code == 200

    own_redis.send_signal(signal.SIGTERM)
    own_redis.wait(timeout=10)

    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert report["database"] == "ok"
    assert report["redis"].startswith("down: ")
    assert report["worker"].startswith("unknown")


@pytest.mark.timeout(120)
def test_a_real_celery_worker_keeps_healthz_green_until_it_stops(
    client: Client, no_heartbeats: redis.Redis
) -> None:
    environment = {
        **os.environ,
        "REDIS_URL": settings.REDIS["client"],
        "WORKER_HEARTBEAT_INTERVAL_S": "1",
    }
    worker = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "clinic", "worker",
            "--pool", "solo", "--queues", "housekeeping", "--hostname", "healthz-test@%h",
            "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
        ],
        cwd=REPO_ROOT,
        env=environment,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and client.get("/healthz").json()["worker"] != "ok":
            time.sleep(0.5)
        assert client.get("/healthz").json()["worker"] == "ok"
    finally:
        worker.send_signal(signal.SIGTERM)  # a warm shutdown, as a deploy would do
        worker.wait(timeout=60)
    assert client.get("/healthz").json()["worker"].startswith("down")


def test_the_report_is_kept_for_the_cache_period_then_read_afresh(
    client: Client, no_heartbeats: redis.Redis, settings: Any
) -> None:
    settings.HEALTH_CACHE_S = 60
    heartbeat_beat(no_heartbeats, "worker@test")
    assert client.get("/healthz").status_code == 200
    for key in no_heartbeats.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*"):
        no_heartbeats.delete(key)  # the worker goes away...

    with CaptureQueriesContext(connection) as queries:
        kept = client.get("/healthz")
    assert kept.status_code == 200  # ...but the kept report is answered, with no query
    assert len(queries) == 0

    settings.HEALTH_CACHE_S = 0
    assert client.get("/healthz").status_code == 503


def test_liveness_answers_without_django_the_database_or_redis() -> None:
    from clinic.asgi import application

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("liveness reads nothing")

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    scope = {"type": "http", "method": "GET", "path": "/livez", "headers": []}
    with CaptureQueriesContext(connection) as queries:
        async_to_sync(application)(scope, receive, send)
    assert len(queries) == 0
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"status": "ok"}'
