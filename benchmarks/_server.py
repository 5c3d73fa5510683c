"""Starting and stopping the ASGI server for the web benchmarks: as production runs it
(uvicorn) or as Moodline ran before (one Daphne process), on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from benchmarks.common import REPO_ROOT

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
APP = "clinic.asgi:application"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_command(server: str, port: int, *, workers: int = 1) -> list[str]:
    """`uvicorn` as docker/entrypoint.sh runs it (with `workers` processes), or `daphne`."""
    bin_dir = Path(sys.executable).parent
    if server == "daphne":
        return [str(bin_dir / "daphne"), "-b", "127.0.0.1", "-p", str(port), APP]
    if server == "uvicorn":
        command = [str(bin_dir / "uvicorn"), "--host", "127.0.0.1", "--port", str(port)]
        command += ["--no-proxy-headers", "--lifespan", "off", "--log-level", "warning"]
        return [*command, *(["--workers", str(workers)] if workers > 1 else []), APP]
    raise ValueError(f"unknown server {server!r}")


def start_server(
    server: str, port: int, env: Mapping[str, str], *, workers: int = 1
) -> subprocess.Popen[bytes]:
    """Start `server` and wait until /healthz answers (any status is an answer)."""
    process = subprocess.Popen(
        server_command(server, port, workers=workers),
        cwd=REPO_ROOT,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise RuntimeError(f"{server} exited: {error}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
            return process
        except urllib.error.HTTPError:
            return process  # 503 without a worker heartbeat is still an answer
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{server} did not answer within {START_TIMEOUT_S:.0f} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:  # a server may wait for open keep-alive connections
        process.kill()
        process.wait()
