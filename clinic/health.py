"""What /healthz checks: the database, Redis, and that at least one worker is alive."""

from __future__ import annotations

import redis
from django.db import DatabaseError, connection

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


def health_report() -> dict[str, str]:
    redis_status, worker_status = check_redis_and_worker()
    return {"database": check_database(), "redis": redis_status, "worker": worker_status}


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
