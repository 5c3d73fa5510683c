"""A real server (uvicorn, HTTP and WebSockets) and a real headless Chromium for UI tests.

The server runs in a subprocess against the test database, so the data a test creates must be
committed: browser tests use `django_db(transaction=True, serialized_rollback=True)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from clinic.demo_media import ClipOptions, demo_clip_write
from tests.clinic.timeline_factory import DURATION_S
from tests.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT_S = 30
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-minute MP4 (a face, speech), as long as tests/clinic/timeline_factory.py's
    timeline."""
    path = tmp_path_factory.mktemp("clips") / "two-minutes.mp4"
    demo_clip_write(path, ClipOptions(duration_s=DURATION_S))
    return path


@pytest.fixture
def server_url(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[str]:
    """The production server (uvicorn) serving clinic.asgi on a free port, reading the test
    database and recordings."""
    port = free_port()
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "MOODLINE_ENV": "test",
        "DEBUG": "false",
        "AXES_ENABLED": "false",
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-proxy-headers",
            "--lifespan",
            "off",
            "clinic.asgi:application",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/login/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "The web server did not start: " + (tmp_path / "server.log").read_text()
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        _wait_for_server_connections_to_close()


def _wait_for_server_connections_to_close(timeout_s: float = 5.0) -> None:
    """Postgres notices a dead client a moment later; the test database is dropped after."""
    deadline = time.monotonic() + timeout_s
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            if row is None or row[0] == 0:
                return
            time.sleep(0.1)


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh Chromium page; the ORM may still be used while Playwright's loop runs."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        # The test body ran inside Playwright's greenlet, which has its own database
        # connection; close it here, or it would keep the test database from being dropped.
        connections.close_all()
        context.close()
        browser.close()
