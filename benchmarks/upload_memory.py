"""Upload benchmark: the web process's peak memory while it takes a large recording.

An hour of video is 1-2 GB. The production server (uvicorn, docker/entrypoint.sh) hands Django
the body in chunks as it arrives; Django spools it to disk, the demuxer check reads the spooled
file, and the storage hashes and encrypts it chunk by chunk: memory should not grow with the
upload. The baseline, measured in the same run, is how Moodline served uploads before: one
Daphne process, which holds the whole request body in memory before Django sees any of it.

Each case starts a fresh server, uploads one small recording to warm it (imports, PyAV), reads
its resident memory as "idle", then streams the upload from this process over loopback while a
thread samples the server's resident memory every 20 ms; the figure is the peak above idle.
The upload is a real MPEG-TS recording (H.264 + AAC, generated here) repeated to the size:
transport streams concatenate, so the file is a recording throughout.

    python -m benchmarks.upload_memory            # 1 GB through uvicorn; 200 MB through both
    python -m benchmarks.upload_memory --quick    # 200 MB through uvicorn and Daphne
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._server import free_port, start_server, stop_server
from benchmarks.common import (
    Row,
    django_bench_env,
    ensure_database,
    print_rows,
    resident_mib,
    write_result,
)

BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/moodline_bench_upload"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/9"
MB = 1000 * 1000
MIB = 1024 * 1024
SEND_CHUNK_BYTES = MIB
SAMPLE_INTERVAL_S = 0.02
TARGET_ABOVE_IDLE_MIB = 100.0


@dataclass(frozen=True)
class UploadCase:
    server: str
    size_bytes: int

    @property
    def name(self) -> str:
        size = (
            f"{self.size_bytes / 1000**3:g} GB"
            if self.size_bytes >= 1000**3
            else (f"{self.size_bytes / MB:g} MB")
        )
        return f"{size} upload, {self.server}"


def _bench_env(media_root: Path) -> dict[str, str]:
    return {
        **os.environ,
        **django_bench_env(BENCH_DATABASE_URL, BENCH_REDIS_URL),
        "AXES_ENABLED": "false",
        "MEDIA_ROOT": str(media_root),
        "RECORDING_MAX_BYTES": str(4 * 1024**3),
    }


def seed(env: dict[str, str]) -> tuple[str, str]:
    """A clinician with an API token and one session to upload to; (token, session id)."""
    import django

    os.environ.update(env)
    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from clinic.models import CareTeamMembership, Organisation, Patient, User
    from clinic.roles import Role
    from clinic.services import session_create

    call_command("migrate", verbosity=0)
    practice, _ = Organisation.objects.get_or_create(name="Upload benchmark practice")
    clinician, created = User.objects.get_or_create(
        username="upload-bench-clinician", defaults={"organisation": practice}
    )
    if created:
        clinician.groups.add(Group.objects.get(name=str(Role.CLINICIAN)))
    patient = Patient.objects.create(
        organisation=practice, pseudonym=f"U-{uuid.uuid4().hex[:8]}", year_of_birth=1980
    )
    CareTeamMembership.objects.create(patient=patient, clinician=clinician)
    session = session_create(patient=patient, clinician=clinician, date=timezone.localdate())
    token, _ = Token.objects.get_or_create(user=clinician)
    return token.key, str(session.id)


def transport_stream(path: Path, seconds: float = 4.0) -> bytes:
    """A short, real MPEG-TS recording: 320x240 H.264 at 25 fps with an AAC tone."""
    import av

    rng = np.random.default_rng(3)
    with av.open(str(path), mode="w", format="mpegts") as container:
        video = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for index in range(round(seconds * 25)):
            pixels = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * 16000)) / 16000)).astype(
            np.float32
        )
        for start in range(0, tone.size, 1024):
            sound = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="flt", layout="mono"
            )
            sound.sample_rate = 16000
            sound.pts = start
            sound.time_base = Fraction(1, 16000)
            container.mux(audio.encode(sound))
        container.mux(audio.encode())
    return path.read_bytes()


def _body_parts(boundary: str) -> tuple[bytes, bytes]:
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="session.ts"\r\n'
        "Content-Type: video/mp2t\r\n\r\n"
    ).encode()
    tail = (
        f"\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="analyse"\r\n\r\nfalse\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    return head, tail


def _file_chunks(unit: bytes, size_bytes: int) -> Iterator[bytes]:
    """`unit` repeated until `size_bytes`, in SEND_CHUNK_BYTES pieces (whole units)."""
    block = unit * max(1, SEND_CHUNK_BYTES // len(unit))
    sent = 0
    while sent < size_bytes:
        piece = block[: size_bytes - sent]
        sent += len(piece)
        yield piece


def upload(port: int, token: str, session_id: str, unit: bytes, size_bytes: int) -> int:
    """POST `size_bytes` of recording as multipart, streamed; returns the HTTP status."""
    boundary = uuid.uuid4().hex
    head, tail = _body_parts(boundary)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.putrequest("POST", f"/api/v1/sessions/{session_id}/recordings/")
    connection.putheader("Authorization", f"Token {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(len(head) + size_bytes + len(tail)))
    connection.endheaders()
    connection.send(head)
    for piece in _file_chunks(unit, size_bytes):
        connection.send(piece)
    connection.send(tail)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


class PeakSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mib = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_mib = max(self.peak_mib, resident_mib(self.pid))
            time.sleep(SAMPLE_INTERVAL_S)


def measure(
    case: UploadCase, env: dict[str, str], token: str, session_id: str, unit: bytes
) -> dict[str, Any]:
    port = free_port()
    server = start_server(case.server, port, env)
    try:
        warm = upload(port, token, session_id, unit, 2 * MB)
        if warm != 201:
            raise RuntimeError(f"the warm-up upload answered {warm}")
        time.sleep(0.5)
        idle = resident_mib(server.pid)
        sampler = PeakSampler(server.pid)
        sampler.start()
        started = time.perf_counter()
        status = upload(port, token, session_id, unit, case.size_bytes)
        seconds = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
    finally:
        stop_server(server)
    return {
        "case": case.name,
        "status": status,
        "idle_mib": round(idle, 1),
        "peak_mib": round(sampler.peak_mib, 1),
        "above_idle_mib": round(sampler.peak_mib - idle, 1),
        "seconds": round(seconds, 2),
        "mb_per_s": round(case.size_bytes / MB / seconds, 1),
    }


def _rows(results: dict[UploadCase, dict[str, Any]]) -> list[Row]:
    rows = []
    for case, found in results.items():
        # Daphne at the same size, else at the largest size it was run at (it is not run at
        # 1 GB: it holds the whole body in memory, 2.6 GB for 200 MB when measured)
        daphne = sorted(
            (other for other in results if other.server == "daphne"),
            key=lambda other: (other.size_bytes == case.size_bytes, other.size_bytes),
        )
        baseline = results[daphne[-1]] if daphne else None
        is_baseline = case.server == "daphne"
        note = f"HTTP {found['status']}" if found["status"] != 201 else ""
        if not is_baseline and case.size_bytes >= 1000**3:
            met = found["above_idle_mib"] <= TARGET_ABOVE_IDLE_MIB
            note = (note + "; " if note else "") + (
                f"target <= {TARGET_ABOVE_IDLE_MIB:g} MiB above idle: {'met' if met else 'missed'}"
            )
        rows.append(
            Row(
                case=case.name,
                metric="peak MiB above idle",
                value=found["above_idle_mib"],
                baseline="" if is_baseline or baseline is None else baseline["case"],
                baseline_value=None
                if is_baseline or baseline is None
                else baseline["above_idle_mib"],
                note=note,
            )
        )
        rows.append(Row(case=case.name, metric="MB/s", value=found["mb_per_s"]))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.upload_memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 MB only")
    parser.add_argument("--size-mb", type=int, action="append", help="upload sizes (repeatable)")
    parser.add_argument("--baseline-size-mb", type=int, default=200)
    args = parser.parse_args(argv)
    sizes = args.size_mb or ([200] if args.quick else [200, 1000])
    cases = [UploadCase("uvicorn", size * MB) for size in sizes]
    cases.append(UploadCase("daphne", args.baseline_size_mb * MB))

    media_root = Path(tempfile.mkdtemp(prefix="moodline-upload-bench-"))
    env = _bench_env(media_root)
    try:
        token, session_id = seed(env)
        with tempfile.TemporaryDirectory() as folder:
            unit = transport_stream(Path(folder) / "unit.ts")
        results = {case: measure(case, env, token, session_id, unit) for case in cases}
    finally:
        shutil.rmtree(media_root, ignore_errors=True)
    rows = _rows(results)
    print_rows("Web process memory while it takes an upload (loopback)", rows)
    write_result(
        "upload_memory",
        rows,
        {"cases": list(results.values()), "unit_recording_bytes": len(unit)},
    )
    failed = [found for found in results.values() if found["status"] != 201]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
