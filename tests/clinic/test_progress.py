"""Live progress over the WebSocket, through the real ASGI stack and the Redis channel layer.

Dr Rivera watches P-0042's session page while the recording is analysed; Dr Okafor, who is not
on P-0042's care team, tries to listen in.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client

from analysis.pipeline import STAGE_NAMES, stages_in_label
from analysis.stages import STAGES
from clinic.asgi import application
from clinic.consumers import CLOSE_REFUSED
from clinic.models import AnalysisJob, Consent, Recording, User
from clinic.progress import ProgressThrottle
from clinic.services import job_create
from clinic.worker import analysis_run

REAL_COMMITS = pytest.mark.django_db(transaction=True, serialized_rollback=True)
RECEIVE_TIMEOUT_S = 90


def _communicator(user: User | None, recording: Recording) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    path = f"/ws/sessions/{recording.session_id}/progress/"
    return WebsocketCommunicator(application, path, headers=headers)


def _analyse(job_id: uuid.UUID) -> None:
    try:
        analysis_run(job_id=job_id, hostname="celery@test-worker")
    finally:
        connection.close()


@pytest.mark.slow
@REAL_COMMITS
def test_the_clinician_sees_the_current_state_then_progress_in_order_then_the_result(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = job_create(
        recording=recording,
        options={"modalities": ["voice", "text", "face"], "sample_fps": 2.0},
    )
    communicator = _communicator(dr_rivera, recording)

    async def watch() -> list[dict[str, Any]]:
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        messages = [await communicator.receive_json_from(timeout=10)]  # the state right now
        worker = asyncio.create_task(asyncio.to_thread(_analyse, job.id))
        while messages[-1]["status"] not in AnalysisJob.FINAL_STATUSES:
            messages.append(await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT_S))
        await worker
        await communicator.disconnect()
        return messages

    messages = async_to_sync(watch)()

    first, last = messages[0], messages[-1]
    assert (first["job"], first["status"], first["progress"]) == (str(job.id), "queued", 0)
    assert (last["status"], last["progress"], last["error_code"]) == ("succeeded", 100, "")
    assert last["recording"] == str(recording.id)
    running = [m for m in messages if m["status"] == "running"]
    assert len(running) >= 5  # the clinician sees the analysis move, stage by stage
    percents = [m["progress"] for m in running]
    assert percents == sorted(percents)
    # Stages that do not read each other run side by side ("face + transcript"): each stage is
    # named, never before a stage whose output it reads, and the last is fusion.
    first_named: dict[str, int] = {}
    for index, message in enumerate(running):
        for name in stages_in_label(message["stage"]) if message["stage"] else ():
            first_named.setdefault(name, index)
    assert set(first_named) == set(STAGE_NAMES)
    for stage in STAGES:
        assert all(first_named[read] <= first_named[stage.name] for read in stage.reads)
    assert running[-1]["stage"] == "fusion"
    times = [m["at"] for m in messages]
    assert times == sorted(times)


@REAL_COMMITS
def test_a_late_visitor_first_gets_the_state_the_job_is_in(
    recording: Recording, dr_rivera: User
) -> None:
    job = job_create(recording=recording)
    AnalysisJob.objects.filter(id=job.id).update(
        status="running", stage="voice", progress=61, started_at=job.created_at
    )
    communicator = _communicator(dr_rivera, recording)

    async def visit() -> dict[str, Any]:
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        message: dict[str, Any] = await communicator.receive_json_from(timeout=10)
        await communicator.disconnect()
        return message

    message = async_to_sync(visit)()
    assert (message["type"], message["job"]) == ("progress", str(job.id))
    assert (message["status"], message["stage"], message["progress"]) == ("running", "voice", 61)


@REAL_COMMITS
@pytest.mark.parametrize("visitor", ["dr_okafor", "anonymous"])
def test_someone_without_access_to_the_session_is_refused_at_connect(
    recording: Recording, dr_okafor: User, visitor: str
) -> None:
    communicator = _communicator(dr_okafor if visitor == "dr_okafor" else None, recording)

    async def knock() -> tuple[bool, int | str | None]:
        connected, code = await communicator.connect(timeout=10)
        return connected, code

    assert async_to_sync(knock)() == (False, CLOSE_REFUSED)


def test_progress_is_throttled_to_two_updates_a_second_but_never_loses_a_stage_or_the_end() -> None:
    now = [0.0]
    throttle = ProgressThrottle(min_interval_s=0.5, clock=lambda: now[0])
    admitted = []
    for step in range(40):  # 40 reports over 2 seconds of one stage
        now[0] = step * 0.05
        if throttle.admit("face", step):
            admitted.append(step)
    assert admitted == [0, 10, 20, 30]
    now[0] = 2.01
    assert throttle.admit("voice", 40)  # a new stage always goes through at once
    assert not throttle.admit("voice", 40)  # nothing new: nothing sent
    now[0] = 2.02
    assert throttle.admit("fusion", 100)
