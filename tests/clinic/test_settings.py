"""Production refuses to start on development defaults, and says which variable is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clinic.settings import redis_addresses

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "MOODLINE_ENV": "production",
    "SECRET_KEY": "k" * 64,
    "DATABASE_URL": "postgres://moodline@db.internal:5432/moodline",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "moodline.example.org",
    "MOODLINE_ENCRYPTION_KEYS": "a2V5LWZvci10ZXN0aW5nLW9ubHktMzItYnl0ZXMhISE",
    "EXTERNAL_ID_KEY": "e" * 64,
}


def _load_settings(**overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter, as a starting server would."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION_ENV and not key.endswith("_FILE") and key != "DEBUG"
    }
    environment.update(PRODUCTION_ENV)
    for key, value in overrides.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    environment["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DEBUG)"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_starts_when_everything_is_set() -> None:
    result = _load_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(variable: str) -> None:
    result = _load_settings(**{variable: None})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} must be set in production" in result.stderr


def test_production_refuses_a_short_secret_key_and_debug() -> None:
    assert "too short" in _load_settings(SECRET_KEY="changeme").stderr
    assert "DEBUG must be off" in _load_settings(DEBUG="true").stderr


def test_the_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("s" * 64 + "\n")
    result = _load_settings(SECRET_KEY=None, SECRET_KEY_FILE=str(secret))
    assert result.returncode == 0, result.stderr


def test_development_needs_no_secrets() -> None:
    result = _load_settings(
        MOODLINE_ENV="development", SECRET_KEY=None, DATABASE_URL=None, REDIS_URL=None
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_one_redis_url_is_spelled_for_each_client() -> None:
    tcp = redis_addresses("redis://127.0.0.1:6379/3")
    assert tcp == {"client": tcp["client"], "celery": tcp["client"], "channels": tcp["client"]}
    socket = redis_addresses("unix:///srv/var/redis.sock?db=2")
    assert socket["celery"] == "redis+socket:///srv/var/redis.sock?db=2"
    assert socket["channels"] == socket["client"] == "unix:///srv/var/redis.sock?db=2"
