"""Faults against the real services: real `celery worker` processes, killed and restarted.

Each test starts workers as separate processes on the test database, sends a real message
through Redis, and breaks something at a moment it waits for in the database (never a sleep):
a worker SIGKILLed mid-analysis, Redis restarted mid-job, a corrupt upload, one job delivered to
two workers. The workers get a short visibility timeout and heartbeat so recovery takes
seconds; the real defaults are minutes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import connection

from analysis.errors import ErrorCode
from analysis.pipeline import stages_in_label
from clinic.heartbeat import HEARTBEAT_KEY_PREFIX
from clinic.models import AnalysisJob, Consent, Recording, StageResult, TimelineResult, User
from clinic.services import analysis_request, job_create
from clinic.services.analysis import ANALYSIS_QUEUE, ANALYSIS_TASK, analysis_enqueue
from clinic.tasks import HELD_MAX_RECHECKS
from tests.clinic.analysis_support import corrupt_recording, job_of, wait_for
from tests.ports import free_port

pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
# Every frame of the two-second clip: the face stage then outlasts the ingest by ~0.4 s, two
# polls, long enough for a fault to be put to it while it runs (at 2 frames a second it
# finished within 0.1 s of the ingest, and a poll every 0.2 s could miss it).
EVERY_FRAME = {"sample_fps": 25.0}
WORKER_START_TIMEOUT_S = 120  # generous: the test machines are shared and busy
JOB_TIMEOUT_S = 240
# Recovery settings for the test workers only (the defaults are minutes).
TEST_VISIBILITY_TIMEOUT_S = 4
TEST_HEARTBEAT_TTL_S = 3
Status = AnalysisJob.Status


@dataclass
class Workers:
    """Real Celery workers on the "analysis" queue, each a process of its own."""

    redis_url: str
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        db = connection.settings_dict
        recordings = settings.STORAGES["recordings"]
        return {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                f"/{db['NAME']}"
            ),
            "REDIS_URL": self.redis_url,
            "RECORDINGS_STORAGE_BACKEND": recordings["BACKEND"],
            "RECORDINGS_STORAGE_OPTIONS": json.dumps(recordings.get("OPTIONS", {})),
            "MOODLINE_ENCRYPTION_KEYS": str(getattr(settings, "MOODLINE_ENCRYPTION_KEYS", "")),
            "BROKER_VISIBILITY_TIMEOUT_S": str(TEST_VISIBILITY_TIMEOUT_S),
            "BROKER_RESTORE_INTERVAL_S": "1",
            "WORKER_HEARTBEAT_INTERVAL_S": "1",
            "WORKER_HEARTBEAT_TTL_S": str(TEST_HEARTBEAT_TTL_S),
            "ANALYSIS_SCRATCH_DIR": str(self.scratch),
        }

    @property
    def scratch(self) -> Path:
        return self.log_dir / "scratch"

    def working_copies(self) -> list[Path]:
        """Decrypted recordings left in any node's scratch folder."""
        return [p for p in self.scratch.glob("*/job-*/*") if p.is_file()]

    def start(self, name: str) -> str:
        """Start worker `name` and wait until it beats; returns its Celery node name."""
        node = f"celery@{name}"
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "solo",
             "--queues", ANALYSIS_QUEUE, "--hostname", node, "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis.from_url(self.redis_url)
        wait_for(
            lambda: bool(client.exists(f"{HEARTBEAT_KEY_PREFIX}{node}")),
            timeout_s=WORKER_START_TIMEOUT_S,
            what=f"worker {name} to start",
        )
        return node

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, nothing cleaned up."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str, *, timeout_s: float) -> int:
        """SIGTERM, as a deployment or a scale-down does; returns the exit status."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout_s)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        self.processes.clear()


def _clear_broker(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.delete(ANALYSIS_QUEUE, "unacked", "unacked_index")
    for key in client.scan_iter(f"{HEARTBEAT_KEY_PREFIX}*"):
        client.delete(key)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    url = settings.REDIS["client"]
    _clear_broker(url)
    pool = Workers(redis_url=url, log_dir=tmp_path)
    yield pool
    pool.stop_all()
    _clear_broker(url)


@dataclass
class OwnRedis:
    """A redis-server of this test's own, so restarting it disturbs nobody else."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout_s=10, what="redis-server to start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(folder=tmp_path, port=free_port())
    server.start()
    yield server
    server.stop()


def _face_running_after_ingest(job_id: uuid.UUID) -> bool:
    """The face stage is running — alone or beside another ("face + transcript") — and the
    ingest stage's output is saved, so there is finished work for a fault to interrupt."""
    job = job_of(job_id)
    return (
        job.status == Status.RUNNING
        and "face" in stages_in_label(job.stage)
        and StageResult.objects.filter(job=job, stage="ingest").exists()
    )


def _finished(job_id: uuid.UUID) -> bool:
    return job_of(job_id).is_final


def _assert_analysed_exactly_once(job: AnalysisJob, recording: Recording) -> None:
    assert job.status == Status.SUCCEEDED, (job.error_code, job.error_message)
    assert TimelineResult.objects.filter(recording=recording).count() == 1
    stages = list(StageResult.objects.filter(job=job).values_list("stage", flat=True))
    assert sorted(stages) == sorted(["ingest", "face", "voice", "transcript", "text", "fusion"])


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_analysis_is_replaced_and_the_job_completes_once(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], workers: Workers
) -> None:
    job = analysis_request(recording=recording, requested_by=dr_rivera, options=EVERY_FRAME)
    workers.start("alpha")
    wait_for(lambda: _face_running_after_ingest(job.id), timeout_s=JOB_TIMEOUT_S, what="face stage")
    ingest_before = StageResult.objects.get(job=job, stage="ingest").created_at

    workers.kill("alpha")
    assert job_of(job.id).status == Status.RUNNING  # nobody noticed yet
    assert workers.working_copies(), "the killed worker left its decrypted copy"
    workers.start("bravo")
    wait_for(lambda: _finished(job.id), timeout_s=JOB_TIMEOUT_S, what="the job to finish")

    job = job_of(job.id)
    _assert_analysed_exactly_once(job, recording)
    assert workers.working_copies() == []  # no plaintext outlives the job
    assert job.attempts == 2
    assert job.worker.startswith("celery@bravo#")
    assert StageResult.objects.get(job=job, stage="ingest").created_at == ingest_before


@pytest.mark.timeout(600)
def test_a_worker_asked_to_stop_hands_its_job_back_at_once_for_another_to_finish(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], workers: Workers
) -> None:
    job = analysis_request(recording=recording, requested_by=dr_rivera, options=EVERY_FRAME)
    workers.start("golf")
    wait_for(lambda: _face_running_after_ingest(job.id), timeout_s=JOB_TIMEOUT_S, what="face stage")

    assert workers.stop("golf", timeout_s=90) == 0  # no waiting for the analysis to finish
    assert job_of(job.id).status == Status.QUEUED
    assert f"job {job.id}: handed_back" in workers.log("golf")

    workers.start("hotel")
    wait_for(lambda: _finished(job.id), timeout_s=JOB_TIMEOUT_S, what="the job to finish")
    job = job_of(job.id)
    _assert_analysed_exactly_once(job, recording)
    assert job.attempts == 2


@pytest.mark.timeout(600)
def test_a_database_hiccup_mid_job_is_retried_and_the_job_resumes_where_it_was(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], workers: Workers
) -> None:
    job = analysis_request(recording=recording, requested_by=dr_rivera, options=EVERY_FRAME)
    workers.start("india")
    wait_for(lambda: _face_running_after_ingest(job.id), timeout_s=JOB_TIMEOUT_S, what="face stage")
    ingest_before = StageResult.objects.get(job=job, stage="ingest").created_at

    with connection.cursor() as cursor:  # Postgres drops every other connection to this database
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )

    wait_for(lambda: _finished(job.id), timeout_s=JOB_TIMEOUT_S, what="the job to finish")
    job = job_of(job.id)
    _assert_analysed_exactly_once(job, recording)
    assert job.attempts == 2  # the retry took the job back from its own first attempt
    assert StageResult.objects.get(job=job, stage="ingest").created_at == ingest_before
    assert "retrying in" in workers.log("india")


@pytest.mark.timeout(600)
def test_a_job_survives_a_redis_restart_and_the_worker_keeps_consuming(
    recording: Recording,
    dr_rivera: User,
    consents: dict[str, Consent],
    own_redis: OwnRedis,
    tmp_path: Path,
) -> None:
    workers = Workers(redis_url=own_redis.url, log_dir=tmp_path)
    options = {"modalities": ["voice", "text", "face"], **EVERY_FRAME}
    job = job_create(recording=recording, requested_by=dr_rivera, options=options)
    try:
        workers.start("charlie")
        _send(job.id, own_redis.url)
        wait_for(lambda: _face_running_after_ingest(job.id), timeout_s=JOB_TIMEOUT_S, what="face")

        own_redis.stop()
        own_redis.start()  # empty: the broker lost every message and key

        wait_for(lambda: _finished(job.id), timeout_s=JOB_TIMEOUT_S, what="the job to finish")
        _assert_analysed_exactly_once(job_of(job.id), recording)

        # The same worker reconnected: a new job sent after the restart is picked up too.
        damaged = corrupt_recording(recording.session, dr_rivera, tmp_path)
        second = job_create(recording=damaged, requested_by=dr_rivera, options=options)
        _send(second.id, own_redis.url)
        wait_for(lambda: _finished(second.id), timeout_s=120, what="the second job")
        assert job_of(second.id).error_code == ErrorCode.CORRUPT_MEDIA
    finally:
        workers.stop_all()


def _send(job_id: uuid.UUID, broker_url: str) -> None:
    with current_app.connection_for_write(broker_url) as broker:
        current_app.send_task(
            ANALYSIS_TASK, args=[str(job_id)], queue=ANALYSIS_QUEUE, connection=broker
        )


@pytest.mark.timeout(300)
def test_a_corrupt_recording_fails_with_its_code_and_is_not_retried(
    recording: Recording,
    dr_rivera: User,
    consents: dict[str, Consent],
    workers: Workers,
    tmp_path: Path,
) -> None:
    damaged = corrupt_recording(recording.session, dr_rivera, tmp_path)
    job = analysis_request(recording=damaged, requested_by=dr_rivera)
    workers.start("delta")
    wait_for(lambda: _finished(job.id), timeout_s=120, what="the job to finish")

    # Longer than the visibility timeout: a message left unacknowledged would be back by now.
    time.sleep(TEST_VISIBILITY_TIMEOUT_S + 2)
    job = job_of(job.id)
    assert (job.status, job.error_code, job.attempts) == (
        Status.FAILED,
        ErrorCode.CORRUPT_MEDIA,
        1,
    )
    broker = redis.Redis.from_url(workers.redis_url)
    assert broker.llen(ANALYSIS_QUEUE) == 0
    assert broker.hlen("unacked") == 0
    damaged.refresh_from_db()
    assert damaged.status == Recording.Status.FAILED
    assert damaged.file.storage.exists(damaged.file.name or "")  # the upload is kept


@pytest.mark.timeout(600)
def test_two_workers_receiving_the_same_job_run_it_once(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], workers: Workers
) -> None:
    workers.start("echo")
    workers.start("foxtrot")
    job = analysis_request(recording=recording, requested_by=dr_rivera, options=EVERY_FRAME)
    analysis_enqueue(job_id=job.id)  # the same job, delivered twice

    wait_for(lambda: _finished(job.id), timeout_s=JOB_TIMEOUT_S, what="the job to finish")
    job = job_of(job.id)
    _assert_analysed_exactly_once(job, recording)
    assert job.attempts == 1
    # Both deliveries were handled: one worker ran the job; the other found a live worker
    # holding it, looked again a few times, and left it to that worker.
    logs = {name: workers.log(name) for name in ("echo", "foxtrot")}
    runner = next(name for name, log in logs.items() if f"job {job.id}: succeeded" in log)
    other = next(name for name in logs if name != runner)
    wait_for(
        lambda: f"job {job.id}: " in workers.log(other),
        timeout_s=(HELD_MAX_RECHECKS + 1) * TEST_HEARTBEAT_TTL_S + 10,
        what="the second delivery to end",
    )
    assert re.search(rf"job {job.id}: (held|finished_before)", workers.log(other))
