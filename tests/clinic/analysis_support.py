"""Helpers the analysis job tests share: waiting on the database, and corrupt recordings."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

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


@contextmanager
def on_stage_stored(job_id: uuid.UUID, stage: str, action: Callable[[], object]) -> Iterator[None]:
    """Run `action` once `stage`'s output of the job is committed, in the worker's own thread.

    Acting from the same thread, between the store and the next stage boundary, makes the
    interruption land at exactly that boundary however fast the remaining stages are.
    """

    def handler(sender: type[StageResult], instance: StageResult, created: bool, **_: Any) -> None:
        if created and instance.job_id == job_id and instance.stage == stage:
            transaction.on_commit(action)

    post_save.connect(handler, sender=StageResult, weak=False)
    try:
        yield
    finally:
        post_save.disconnect(handler, sender=StageResult)


def corrupt_recording(session: TherapySession, uploaded_by: User, folder: Path) -> Recording:
    """An upload whose MP4 index was lost: it looks like media but cannot be opened."""
    clip = make.write_damaged_header(folder / "damaged.mp4")
    return RecordingFactory.create(session=session, clip=clip, uploaded_by=uploaded_by)
