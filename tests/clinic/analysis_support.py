"""Helpers the analysis job tests share: waiting on the database, and corrupt recordings."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from clinic.models import AnalysisJob, Recording, StageResult, TherapySession, User
from tests.analysis import media_factory as make
from tests.factories import RecordingFactory

WAIT_STEP_S = 0.2


def wait_for(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail the test with `what` when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(WAIT_STEP_S)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def job_of(job_id: uuid.UUID) -> AnalysisJob:
    return AnalysisJob.objects.get(id=job_id)


def stage_done(job_id: uuid.UUID, stage: str) -> Callable[[], bool]:
    return lambda: StageResult.objects.filter(job_id=job_id, stage=stage).exists()


def when_in_background(
    condition: Callable[[], bool], action: Callable[[], object], *, timeout_s: float = 120
) -> threading.Thread:
    """Run `action` on another thread (with its own database connection) once `condition`."""

    def watch() -> None:
        try:
            wait_for(condition, timeout_s=timeout_s, what="the background condition")
            action()
        finally:
            connection.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def corrupt_recording(session: TherapySession, uploaded_by: User, folder: Path) -> Recording:
    """An upload whose MP4 index was lost: it looks like media but cannot be opened."""
    clip = make.write_damaged_header(folder / "damaged.mp4")
    return RecordingFactory.create(session=session, clip=clip, uploaded_by=uploaded_by)
