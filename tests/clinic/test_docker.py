"""The production container files, checked by reading them (no Docker engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"


def test_compose_runs_every_role_with_volumes_and_health_checks() -> None:
    compose = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text())
    services = compose["services"]
    assert {"web", "worker", "worker-housekeeping", "beat", "postgres", "redis"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("web", "worker", "worker-housekeeping", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "media:/data/media" in services["web"]["volumes"]
    assert services["worker"]["volumes"] == services["web"]["volumes"]
    assert {"media", "pgdata", "redisdata"} <= set(compose["volumes"])


def test_the_image_runs_as_an_unprivileged_user_with_cpu_torch() -> None:
    dockerfile = (DOCKER_DIR / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert "download.pytorch.org/whl/cpu" in dockerfile


def test_the_env_example_names_every_production_setting() -> None:
    example = (DOCKER_DIR / ".env.example").read_text()
    for variable in (
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "MOODLINE_ENCRYPTION_KEYS",
        "EXTERNAL_ID_KEY",
    ):
        assert re.search(rf"^{variable}=", example, flags=re.MULTILINE), variable
