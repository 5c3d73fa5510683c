"""Steps the browser tests share: signing in, acting as a worker beside the page, pictures."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connections

from tests.factories import TEST_PASSWORD


def sign_in(page: Any, server_url: str, username: str) -> None:
    page.goto(f"{server_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server_url}/")


def as_a_worker(step: Callable[[], object]) -> None:
    """Run a worker's step in its own thread, outside Playwright's event loop, as Celery would."""

    def run() -> None:
        try:
            step()
        finally:
            connections.close_all()  # this thread's own connection, or the test db stays busy

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=30)


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Keep a picture of the page when MOODLINE_SCREENSHOT_DIR names a folder (for review)."""
    folder = os.environ.get("MOODLINE_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)
