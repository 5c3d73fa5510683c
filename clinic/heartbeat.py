"""The worker heartbeat: each Celery worker keeps a Redis key alive that /healthz looks for.

A daemon thread started when the worker is ready refreshes `moodline:worker-heartbeat:<name>`
every WORKER_HEARTBEAT_INTERVAL_S with a time-to-live of WORKER_HEARTBEAT_TTL_S, so a worker that
dies or hangs disappears from Redis on its own, without anyone cleaning up. Its value is the
time of the beat and the time the worker started: a worker restarted under the same name beats
at once, and only its start time tells that the jobs its predecessor held are lost.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

logger = logging.getLogger(__name__)

HEARTBEAT_KEY_PREFIX = "moodline:worker-heartbeat:"

_stop = threading.Event()
_worker_names: list[str] = []  # the name this process beats under, once its worker is ready


def redis_client() -> redis.Redis:
    """A client for the REDIS_URL server; short timeouts so a dead server is reported fast."""
    client: redis.Redis = redis.Redis.from_url(
        settings.REDIS["client"], socket_connect_timeout=2, socket_timeout=2
    )
    return client


def heartbeat_beat(client: redis.Redis, worker_name: str, started: float | None = None) -> None:
    """Say once that `worker_name`, running since `started` (epoch seconds), is alive now."""
    now = time.time()
    client.set(
        f"{HEARTBEAT_KEY_PREFIX}{worker_name}",
        f"{now:.3f} {started if started is not None else now:.3f}",
        ex=settings.WORKER_HEARTBEAT_TTL_S,
    )


def heartbeat_started(client: redis.Redis) -> dict[str, float]:
    """When each live worker started (epoch seconds), by name."""
    names = heartbeat_workers(client)
    values = client.mget([f"{HEARTBEAT_KEY_PREFIX}{name}" for name in names]) if names else []
    started: dict[str, float] = {}
    for name, value in zip(names, values, strict=True):
        if value is not None:  # expired between the scan and the read
            beat, _, since = value.decode().partition(" ")
            started[name] = float(since or beat)
    return started


def heartbeat_workers(client: redis.Redis) -> list[str]:
    """Names of the workers whose heartbeat has not expired."""
    prefix_length = len(HEARTBEAT_KEY_PREFIX)
    return sorted(
        key.decode()[prefix_length:] for key in client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*")
    )


def _beat_until_stopped(worker_name: str, started: float) -> None:
    client = redis_client()
    while not _stop.is_set():
        try:
            heartbeat_beat(client, worker_name, started)
        except redis.RedisError:
            logger.warning("worker heartbeat could not reach Redis", exc_info=True)
        _stop.wait(settings.WORKER_HEARTBEAT_INTERVAL_S)


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    worker_name = getattr(sender, "hostname", None) or "worker"
    _stop.clear()
    _worker_names.append(worker_name)
    threading.Thread(
        target=_beat_until_stopped,
        args=(worker_name, time.time()),
        name="moodline-heartbeat",
        daemon=True,
    ).start()


@worker_shutdown.connect
def _stop_heartbeat(sender: Any = None, **_: Any) -> None:
    _stop.set()
    try:
        client = redis_client()
        for worker_name in _worker_names:
            client.delete(f"{HEARTBEAT_KEY_PREFIX}{worker_name}")
    except redis.RedisError:
        pass  # the key expires by itself
