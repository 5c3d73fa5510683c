"""`python manage.py demo`: a practice with three users and a patient with two recorded,
analysed sessions (clinic/demo_sessions.py), two weeks apart.

Seeding is idempotent: running the demo again keeps the data and prints fresh passwords. The
web server (Daphne) and a Celery worker run as child processes until Ctrl-C stops them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import Group
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from analysis.allocator import analysis_environment
from clinic.demo_sessions import DEMO_SESSIONS, DemoSession, demo_session_clip
from clinic.models import (
    AnalysisJob,
    ConsentScope,
    Organisation,
    Patient,
    Recording,
    TherapySession,
    User,
)
from clinic.roles import Role
from clinic.selectors import consent_active_modalities, job_active_for_recording
from clinic.services import (
    analysis_request,
    care_team_add,
    consent_give,
    patient_create,
    recording_create,
    session_create,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PRACTICE = "Moodline Demo Practice"
DEMO_PATIENT = "P-DEMO-001"
DEMO_CONSENT_FORM = "demo-1"
# (username, role, may use the Django admin)
DEMO_USERS: tuple[tuple[str, Role, bool], ...] = (
    ("demo_clinician", Role.CLINICIAN, False),
    ("demo_admin", Role.ADMIN, True),
    ("demo_auditor", Role.AUDITOR, True),
)
CHILD_STOP_TIMEOUT_S = 20


@dataclass(frozen=True)
class DemoSeed:
    credentials: dict[str, str]  # username -> the password set on this run
    recordings: list[Recording]  # the demo patient's sessions' recordings, oldest first
    jobs: list[AnalysisJob]  # the analyses queued on this run, if any were needed
    spoken: bool  # False: espeak-ng was missing and the sessions have a tone for speech


def demo_seed() -> DemoSeed:
    """Create or refresh the demo practice, its users and its analysed demo sessions."""
    with transaction.atomic():
        practice, _ = Organisation.objects.get_or_create(name=DEMO_PRACTICE)
        credentials = {
            username: _demo_user(username, role, staff, practice)
            for username, role, staff in DEMO_USERS
        }
        clinician = User.objects.get(username="demo_clinician")
        patient = Patient.objects.filter(organisation=practice, pseudonym=DEMO_PATIENT).first()
        if patient is None:
            patient = patient_create(
                organisation=practice, pseudonym=DEMO_PATIENT, display_name="Demo", created_by=None
            )
        care_team_add(patient=patient, clinician=clinician)
        active = consent_active_modalities(patient=patient)
        for modality in ConsentScope:
            if modality.value not in active:
                consent_give(
                    patient=patient,
                    modality=modality,
                    form_version=DEMO_CONSENT_FORM,
                    given_by="patient",
                    recorded_by=clinician,
                )
        recordings, jobs, spoken = [], [], True
        for script in DEMO_SESSIONS:
            recording, made_spoken = _demo_recording(patient, clinician, script)
            spoken = spoken and made_spoken
            recordings.append(recording)
            already = recording.jobs.filter(status=AnalysisJob.Status.SUCCEEDED).exists()
            if not already and job_active_for_recording(recording=recording) is None:
                jobs.append(analysis_request(recording=recording, requested_by=clinician))
    return DemoSeed(credentials=credentials, recordings=recordings, jobs=jobs, spoken=spoken)


def _demo_user(username: str, role: Role, staff: bool, practice: Organisation) -> str:
    user, _ = User.objects.get_or_create(username=username, defaults={"organisation": practice})
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.organisation = practice
    user.is_staff = staff
    user.save()
    user.groups.add(Group.objects.get(name=str(role)))
    return password


def _demo_recording(
    patient: Patient, clinician: User, script: DemoSession
) -> tuple[Recording, bool]:
    """The scripted session's recording, made on the first run; True when it is spoken."""
    session = TherapySession.objects.filter(
        patient=patient, external_encounter_id=script.encounter_id
    ).first()
    if session is None:
        session = session_create(
            patient=patient,
            clinician=clinician,
            date=timezone.localdate() - dt.timedelta(days=script.days_ago),
        )
        session.external_encounter_id = script.encounter_id
        session.save(update_fields=["external_encounter_id"])
    existing = session.recordings.order_by("created_at").first()
    if existing is not None:
        return existing, True
    with tempfile.TemporaryDirectory() as folder:
        clip, spoken = demo_session_clip(script, Path(folder) / f"{script.encounter_id}.mp4")
        with clip.path.open("rb") as handle:
            recording = recording_create(
                session=session,
                file=File(handle, name=clip.path.name),
                uploaded_by=clinician,
                content_type="video/mp4",
            )
    return recording, spoken


def demo_serve(*, host: str, port: int) -> int:
    """Run the web server and a Celery worker until Ctrl-C (or SIGTERM); returns an exit status."""
    children = [
        _start(
            [sys.executable, "-m", "uvicorn", "--host", host, "--port", str(port),
             "--no-proxy-headers", "--lifespan", "off", "clinic.asgi:application"]
        ),
        _start(
            [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "threads",
             "--concurrency", "2", "--queues", "analysis,housekeeping", "--loglevel", "INFO"],
            environment=analysis_environment(),  # on jemalloc where installed
        ),
    ]  # fmt: skip
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    # Ctrl-C is how the demo is meant to end: a worker killed mid-analysis is no failure. SIGINT
    # is handled explicitly because a shell that starts a command in the background hands it
    # SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stop_requested and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        _stop(children)
    failed = [child for child in children if child.returncode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stop_requested else 0


def _start(
    command: Sequence[str], environment: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = os.environ.copy() if environment is None else environment
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env)  # noqa: S603


def _stop(children: Sequence[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
