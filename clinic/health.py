"""What /healthz checks: the database, Redis, and that at least one worker is alive.

A load balancer or orchestrator asks every few seconds from several places; the answer is
kept for HEALTH_CACHE_S in each web process, so readiness checks cost the database and Redis
one round trip each per process and period, however often they are asked. Liveness (is the
process serving at all?) is `/livez`, answered before Django: see `LivenessProbe`.
"""

from __future__ import annotations

import threading
import time

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from clinic.asgi_answers import ASGIApp, Receive, Scope, Send, send_json
from clinic.heartbeat import heartbeat_workers, redis_client

OK = "ok"


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"down: {_first_line(error)}"
    return OK


def check_redis_and_worker() -> tuple[str, str]:
    """(redis, worker): the worker's heartbeat lives in Redis, so without Redis it is unknown."""
    client = redis_client()
    try:
        client.ping()
        workers = heartbeat_workers(client)
    except redis.RedisError as error:
        return f"down: {_first_line(error)}", "unknown: Redis is down"
    finally:
        client.close()
    if not workers:
        return OK, "down: no worker heartbeat in Redis"
    return OK, OK


_cache_lock = threading.Lock()
_cached: tuple[float, dict[str, str]] | None = None


def health_report() -> dict[str, str]:
    """The latest report, at most HEALTH_CACHE_S old."""
    global _cached
    with _cache_lock:
        now = time.monotonic()
        if _cached is not None and now - _cached[0] < settings.HEALTH_CACHE_S:
            return dict(_cached[1])
        redis_status, worker_status = check_redis_and_worker()
        report = {"database": check_database(), "redis": redis_status, "worker": worker_status}
        _cached = (now, report)
        return dict(report)


def health_cache_clear() -> None:
    global _cached
    with _cache_lock:
        _cached = None


LIVENESS_PATH = "/livez"


class LivenessProbe:
    """ASGI middleware: `GET /livez` answers 200 from here, touching nothing (no middleware,
    session, database or Redis): the process is up and its event loop turns."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != LIVENESS_PATH:
            await self.app(scope, receive, send)
            return
        await send_json(send, 200, {"status": "ok"})


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
