"""Jobs under load: 50 short recordings uploaded at once, analysed by N real Celery workers.

Seeds its own database (`moodline_jobs_bench` on the local Postgres unless `DATABASE_URL` says
otherwise; Redis database 9 unless `REDIS_URL` does) with one practice, clinician and
consenting patient, starts N `celery worker` processes on the "analysis" queue (solo pool, one
job at a time each, as production runs them), then:

1. warms every worker up with one job each (each worker loads its models once);
2. baseline, same run: one job alone on idle workers, its queue wait and run time;
3. the burst: N recordings stored and their analysis requested in one transaction, so every
   message reaches the broker at the same moment, as when a practice uploads a day's sessions.

It reports queue wait (request → claim) and run time (claim → final) per job as median / p95,
throughput (jobs per minute from the burst's commit to its last final state), and checks that
every job ended in a final state with exactly one timeline and one output per stage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO_ROOT,
    Row,
    django_bench_env,
    ensure_database,
    percentile,
    print_rows,
    python_child,
    summarise,
    write_result,
)

BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/moodline_jobs_bench"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/9"
PRACTICE_NAME = "Jobs benchmark practice"
CLINICIAN_USERNAME = "jobs-bench-clinician"
CLIP_SECONDS = 2.0
POLL_S = 0.5
WORKER_START_TIMEOUT_S = 240.0  # generous: the machines these run on are shared
STAGE_COUNT = 5  # analysis.pipeline.STAGES


@dataclass(frozen=True)
class LoadOptions:
    recordings: int = 50  # uploaded at once in the burst
    workers: int = 2  # celery worker processes, one job at a time each
    sample_fps: float = 2.0  # video frames analysed per second (job option)
    timeout_s: float = 60 * 60.0  # the burst must be done by then


def _bench_env() -> dict[str, str]:
    return django_bench_env(BENCH_DATABASE_URL, BENCH_REDIS_URL)


def _setup_django(media_root: Path) -> None:
    import django

    os.environ.update(_bench_env())
    os.environ["MEDIA_ROOT"] = str(media_root)
    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _practice() -> Any:
    """The clinician and the consenting patient's session every upload goes to."""
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from clinic.models import ConsentScope, Organisation, Patient, User
    from clinic.roles import Role
    from clinic.selectors import consent_active_modalities
    from clinic.services import care_team_add, consent_give, patient_create, session_create

    practice, _ = Organisation.objects.get_or_create(name=PRACTICE_NAME)
    clinician, created = User.objects.get_or_create(
        username=CLINICIAN_USERNAME, defaults={"organisation": practice}
    )
    if created:
        clinician.groups.add(Group.objects.get(name=str(Role.CLINICIAN)))
    patient = Patient.objects.filter(organisation=practice).first() or patient_create(
        organisation=practice, pseudonym="P-LOAD-1", display_name="Load", created_by=None
    )
    care_team_add(patient=patient, clinician=clinician)
    active = consent_active_modalities(patient=patient)
    for modality in ConsentScope:
        if modality not in active:
            consent_give(
                patient=patient, modality=modality, form_version="bench", given_by="patient"
            )
    return session_create(
        patient=patient, clinician=clinician, date=timezone.localdate(), notes=""
    ), clinician


def _upload(count: int, clip: Path, session: Any, clinician: Any, sample_fps: float) -> list[str]:
    """Store `count` recordings and request their analysis in one transaction; job ids."""
    from django.core.files import File
    from django.db import transaction

    from clinic.services import analysis_request, recording_create

    job_ids: list[str] = []
    with transaction.atomic():
        for index in range(count):
            with clip.open("rb") as handle:
                recording = recording_create(
                    session=session,
                    file=File(handle, name=f"upload-{index}.mp4"),
                    uploaded_by=clinician,
                    content_type="video/mp4",
                )
            job = analysis_request(
                recording=recording, requested_by=clinician, options={"sample_fps": sample_fps}
            )
            job_ids.append(str(job.id))
    return job_ids


def _warmup_queue(index: int) -> str:
    return f"jobs-bench-warmup-{index}"


def _warm_up(
    workers: int, clip: Path, session: Any, clinician: Any, sample_fps: float
) -> list[str]:
    """One job on each worker's own queue, so every worker has loaded its models."""
    from celery import current_app
    from django.core.files import File
    from django.db import transaction

    from clinic.services import job_create, recording_create
    from clinic.services.analysis import ANALYSIS_TASK, MEDIA_MODALITIES

    job_ids = []
    for index in range(workers):
        with transaction.atomic(), clip.open("rb") as handle:
            recording = recording_create(
                session=session, file=File(handle, name="warm-up.mp4"), uploaded_by=clinician
            )
            job = job_create(
                recording=recording,
                requested_by=clinician,
                options={"modalities": list(MEDIA_MODALITIES), "sample_fps": sample_fps},
            )
        current_app.send_task(ANALYSIS_TASK, args=[str(job.id)], queue=_warmup_queue(index))
        job_ids.append(str(job.id))
    return job_ids


def _wait_final(job_ids: Sequence[str], timeout_s: float) -> None:
    from clinic.models import AnalysisJob

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        active = AnalysisJob.objects.filter(
            id__in=job_ids, status__in=AnalysisJob.ACTIVE_STATUSES
        ).count()
        if not active:
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"jobs still active after {timeout_s:.0f} s")


def _start_workers(count: int, media_root: Path, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    from clinic.heartbeat import HEARTBEAT_KEY_PREFIX, redis_client

    env = {**os.environ, **_bench_env(), "MEDIA_ROOT": str(media_root)}
    workers = []
    for index in range(count):
        log = (log_dir / f"worker-{index}.log").open("ab")
        argv = python_child(
            "celery", "-A", "clinic", "worker", "--pool", "solo",
            "--queues", f"analysis,{_warmup_queue(index)}",
            "--hostname", f"celery@bench-{index}", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        )  # fmt: skip
        workers.append(
            subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        )
    client = redis_client()
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    names = {f"{HEARTBEAT_KEY_PREFIX}celery@bench-{index}" for index in range(count)}
    while not all(client.exists(name) for name in names):
        if time.monotonic() > deadline:
            _stop_workers(workers)
            logs = "\n".join(path.read_text()[-1500:] for path in log_dir.glob("worker-*.log"))
            raise TimeoutError(f"the workers did not start:\n{logs}")
        time.sleep(POLL_S)
    return workers


def _stop_workers(workers: Sequence[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _job_times(job_ids: Sequence[str]) -> list[dict[str, Any]]:
    from clinic.models import AnalysisJob, StageResult, TimelineResult

    rows = []
    for job in AnalysisJob.objects.filter(id__in=job_ids):
        rows.append(
            {
                "status": job.status,
                "attempts": job.attempts,
                "created_at": job.created_at,
                "started_at": job.started_at,
                "finished_at": job.finished_at,
                "timelines": TimelineResult.objects.filter(recording_id=job.recording_id).count(),
                "stage_outputs": StageResult.objects.filter(job=job).count(),
                "worker": job.worker.split("#")[0],
            }
        )
    return rows


def _seconds(later: dt.datetime | None, earlier: dt.datetime | None) -> float:
    if later is None or earlier is None:
        return float("nan")
    return (later - earlier).total_seconds()


def measure(options: LoadOptions) -> tuple[list[Row], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="moodline-jobs-bench-") as folder:
        media_root = Path(folder)
        _setup_django(media_root)
        from django.db import connection

        from clinic.demo_media import ClipOptions, demo_clip_write
        from clinic.heartbeat import redis_client

        redis_client().delete("analysis", "unacked", "unacked_index")
        clip = demo_clip_write(media_root / "clip.mp4", ClipOptions(duration_s=CLIP_SECONDS)).path
        session, clinician = _practice()
        workers = _start_workers(options.workers, media_root, media_root)
        try:
            warmup = _warm_up(options.workers, clip, session, clinician, options.sample_fps)
            _wait_final(warmup, options.timeout_s)
            baseline_ids = _upload(1, clip, session, clinician, options.sample_fps)
            _wait_final(baseline_ids, options.timeout_s)
            burst_started = time.perf_counter()
            burst_ids = _upload(options.recordings, clip, session, clinician, options.sample_fps)
            _wait_final(burst_ids, options.timeout_s)
            burst_s = time.perf_counter() - burst_started
            baseline = _job_times(baseline_ids)[0]
            jobs = _job_times(burst_ids)
        finally:
            _stop_workers(workers)
            connection.close()

    waits = [_seconds(j["started_at"], j["created_at"]) for j in jobs]
    runs = [_seconds(j["finished_at"], j["started_at"]) for j in jobs]
    base_wait = _seconds(baseline["started_at"], baseline["created_at"])
    base_run = _seconds(baseline["finished_at"], baseline["started_at"])
    statuses = {s: sum(1 for j in jobs if j["status"] == s) for s in {j["status"] for j in jobs}}
    exactly_once = all(
        j["timelines"] == 1 and j["stage_outputs"] == STAGE_COUNT
        for j in jobs
        if j["status"] == "succeeded"
    )
    per_worker = {w: sum(1 for j in jobs if j["worker"] == w) for w in {j["worker"] for j in jobs}}
    throughput = 60.0 * len(jobs) / burst_s
    rows = [
        Row(
            "burst queue wait",
            "median s",
            round(summarise(waits).median, 2),
            f"p95 {percentile(waits, 0.95):.1f}, max {max(waits):.1f}, n={len(waits)}",
            "one job alone",
            round(base_wait, 2),
        ),
        Row(
            "burst run time per job",
            "median s",
            round(summarise(runs).median, 2),
            f"p95 {percentile(runs, 0.95):.1f}, n={len(runs)}",
            "one job alone",
            round(base_run, 2),
        ),
        Row(
            "burst throughput",
            "jobs/min",
            round(throughput, 2),
            f"{len(jobs)} jobs in {burst_s:.0f} s on {options.workers} workers",
            "one job alone",
            round(60.0 / (base_wait + base_run), 2),
        ),
        Row(
            "jobs final, one result each",
            "jobs",
            float(sum(statuses.values())),
            note=f"statuses {statuses}; exactly one timeline and {STAGE_COUNT} stage outputs "
            f"per succeeded job: {exactly_once}",
        ),
    ]
    details = {
        "options": options.__dict__,
        "clip_s": CLIP_SECONDS,
        "statuses": statuses,
        "all_final": sum(statuses.values()) == len(jobs)
        and all(s in ("succeeded", "failed", "cancelled") for s in statuses),
        "exactly_one_result": exactly_once,
        "jobs_per_worker": per_worker,
        "max_attempts": max(j["attempts"] for j in jobs),
        "burst_s": round(burst_s, 2),
        "queue_wait_s": [round(w, 2) for w in waits],
        "run_s": [round(r, 2) for r in runs],
        "baseline": {
            "status": baseline["status"],
            "queue_wait_s": round(base_wait, 2),
            "run_s": round(base_run, 2),
        },
    }
    return rows, details


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs_load", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 recordings instead of 50")
    parser.add_argument("--recordings", type=int, default=None)
    parser.add_argument("--workers", type=int, default=LoadOptions.workers)
    args = parser.parse_args(argv)
    options = LoadOptions(
        recordings=args.recordings or (10 if args.quick else LoadOptions.recordings),
        workers=args.workers,
    )
    rows, details = measure(options)
    print_rows(f"Analysis jobs under load ({options.workers} workers)", rows)
    write_result("jobs_load", rows, details)
    ok = details["all_final"] and details["exactly_one_result"]
    ok = ok and details["baseline"]["status"] == "succeeded"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
