"""`make demo` works on a machine that has only Python: embedded Postgres and Redis, a real
demo clip, web and worker up, and Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest

from clinic import demo_sessions
from clinic.demo import CHILD_STOP_TIMEOUT_S
from clinic.demo_media import SHARED_SPEECH_SAMPLE, ClipOptions, demo_clip_write
from clinic.demo_sessions import DEMO_SESSIONS, ESPEAK_MISSING, demo_session_clip
from tests.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_clip_is_a_real_video_with_speech(tmp_path: Path) -> None:
    clip = demo_clip_write(tmp_path / "clip.mp4", ClipOptions(duration_s=3.0))

    with av.open(str(clip.path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.width, video.height, audio.sample_rate) == (320, 240, 16_000)
        assert container.duration is not None
        assert abs(container.duration / av.time_base - 3.0) < 0.2
        samples = np.concatenate(
            [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
        )
    # Speech, not silence: the JFK sample (or espeak-ng) is clearly audible.
    assert float(np.sqrt(np.mean(samples**2))) > 0.01
    expected = "file:jfk.flac" if SHARED_SPEECH_SAMPLE.is_file() else "espeak-ng"
    assert clip.audio_source == expected


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@pytest.mark.timeout(300)
def test_make_demo_runs_on_embedded_servers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "MOODLINE_ENV", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(
        MOODLINE_VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"),
        WORKER_HEARTBEAT_INTERVAL_S="1",
        PYTHONUNBUFFERED="1",
    )
    # started as `make demo &` would start it: a shell hands a background command SIGINT
    # ignored, and Ctrl-C must still stop the demo
    command = [sys.executable, "manage.py", "demo", "--port", str(port)]
    demo = subprocess.Popen(
        ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            output.append(line)
            if "press Ctrl-C" in line:
                break
        printed = "".join(output)
        assert "Embedded server started: DATABASE_URL=postgres://" in printed
        assert "Embedded server started: REDIS_URL=unix://" in printed
        for username in ("demo_clinician", "demo_admin", "demo_auditor"):
            assert f"user {username}" in printed
        assert "analysis queued as job" in printed

        healthz = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _get(healthz) != 200:
            time.sleep(1)
        assert _get(healthz) == 200, printed
        assert _get(f"http://127.0.0.1:{port}/admin/login/") == 200
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            # the worker gets CHILD_STOP_TIMEOUT_S, then Postgres and Redis stop; generous, as a
            # loaded 2-core machine can take its time to stop a worker in the middle of an analysis
            rest, _ = demo.communicate(timeout=CHILD_STOP_TIMEOUT_S + 100)
        except subprocess.TimeoutExpired:
            demo.kill()
            rest, _ = demo.communicate()
            pytest.fail("the demo did not stop on Ctrl-C; its last output:\n" + rest[-3000:])
    assert demo.returncode == 0, rest[-3000:]
    assert _get(f"http://127.0.0.1:{port}/healthz") == 0  # nothing listens any more


@pytest.mark.slow
def test_the_demo_sessions_are_minutes_of_two_voices_over_a_face(tmp_path: Path) -> None:
    script = DEMO_SESSIONS[1]

    clip, spoken = demo_session_clip(script, tmp_path / "session.mp4")

    assert spoken
    assert {turn.role for turn in script.turns} == {"client", "clinician"}
    assert {turn.emotion for turn in script.turns} >= {"sad", "angry", "fear", "happy"}
    assert clip.duration_s > 150  # minutes, not seconds
    with av.open(str(clip.path)) as container:
        assert container.streams.video
        assert container.streams.audio


def test_without_espeak_the_demo_sessions_still_get_made_and_say_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_sessions.shutil, "which", lambda name: None)

    clip, spoken = demo_session_clip(DEMO_SESSIONS[0], tmp_path / "session.mp4")

    assert not spoken
    assert clip.path.stat().st_size > 0
    assert "apt-get install espeak-ng" in ESPEAK_MISSING
