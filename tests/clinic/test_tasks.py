"""Running an analysis job in this process, with the real pipeline on a real two-second clip.

Dr Rivera asks for the analysis of P-0042's recorded session; a worker (played here by the
test itself, under a Celery node name) claims the job and runs it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from analysis.errors import JOB_FAILURE_CODES, ErrorCode
from analysis.pipeline import stage_fingerprints
from analysis.stage_outputs import IngestOutput
from clinic.errors import CLINICIAN_MESSAGES, clinician_message
from clinic.heartbeat import heartbeat_beat, redis_client
from clinic.models import AnalysisJob, Consent, Recording, StageResult, TimelineResult, User
from clinic.services import job_cancel, job_claim, job_create, jobs_cancel_for_patient
from clinic.services.analysis import ANALYSIS_QUEUE, jobs_recover_stale, worker_identity
from clinic.services.jobs import job_requeue, job_take_over, stage_result_save
from clinic.worker import (
    RunOutcome,
    analysis_run,
    pipeline_options_for,
    recording_local_copy,
)
from tests.clinic.analysis_support import (
    corrupt_recording,
    job_of,
    on_stage_stored,
)
from tests.factories import RecordingFactory, TherapySessionFactory

Status = AnalysisJob.Status
WORKER_A = "celery@worker-a"
WORKER_B = "celery@worker-b"
ALL_STAGES = {"ingest", "face", "voice", "transcript", "text", "fusion"}
FAST = {"sample_fps": 2.0}  # fewer video frames: the same stages, sooner


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis_client()
    client.delete(ANALYSIS_QUEUE)
    yield client
    client.delete(ANALYSIS_QUEUE)


def _job(recording: Recording, dr_rivera: User) -> AnalysisJob:
    return job_create(
        recording=recording,
        requested_by=dr_rivera,
        options={"modalities": ["voice", "text", "face"], **FAST},
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_recording_is_analysed_once_with_every_stage_kept(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = _job(recording, dr_rivera)

    assert analysis_run(job_id=job.id, hostname=WORKER_A) == RunOutcome.SUCCEEDED

    job = job_of(job.id)
    assert (job.status, job.progress, job.attempts) == (Status.SUCCEEDED, 100, 1)
    assert job.error_code == ""
    assert set(StageResult.objects.filter(job=job).values_list("stage", flat=True)) == ALL_STAGES
    timeline = TimelineResult.objects.get(recording=recording)
    assert timeline.schema_version == "moodline.timeline/1"
    assert timeline.document["duration_s"] == pytest.approx(2.0, abs=0.2)
    assert timeline.models_provenance  # every model that contributed is named
    recording.refresh_from_db()
    assert recording.status == Recording.Status.ANALYSED
    assert recording.duration_s == pytest.approx(2.0, abs=0.2)

    # The same message delivered again changes nothing.
    assert analysis_run(job_id=job.id, hostname=WORKER_B) == RunOutcome.FINISHED_BEFORE
    assert TimelineResult.objects.filter(recording=recording).count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_job_taken_over_mid_way_resumes_from_the_stages_already_stored(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = _job(recording, dr_rivera)
    first_worker = worker_identity(WORKER_A)
    # Worker A is presumed lost once face analysis is stored; B's process takes the job over.
    take_over = on_stage_stored(
        job.id,
        "face",
        lambda: job_take_over(
            job_id=job.id, worker=worker_identity(WORKER_B), from_worker=first_worker
        ),
    )
    with take_over:
        assert analysis_run(job_id=job.id, hostname=WORKER_A) == RunOutcome.LOST
    kept = dict(StageResult.objects.filter(job=job).values_list("stage", "created_at"))
    assert {"ingest", "face"} <= set(kept)
    assert "fusion" not in kept

    # B's node has no heartbeat (it "died" too): a new delivery on worker C takes over.
    assert analysis_run(job_id=job.id, hostname="celery@worker-c") == RunOutcome.SUCCEEDED
    job = job_of(job.id)
    assert (job.status, job.attempts) == (Status.SUCCEEDED, 3)
    after = dict(StageResult.objects.filter(job=job).values_list("stage", "created_at"))
    assert set(after) == ALL_STAGES
    assert (after["ingest"], after["face"]) == (kept["ingest"], kept["face"])  # not redone
    assert TimelineResult.objects.filter(job=job).count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_cancelled_job_stops_at_the_next_stage_boundary_without_a_result(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = _job(recording, dr_rivera)
    with on_stage_stored(job.id, "ingest", lambda: job_cancel(job_id=job.id)):
        assert analysis_run(job_id=job.id, hostname=WORKER_A) == RunOutcome.CANCELLED

    job = job_of(job.id)
    assert job.status == Status.CANCELLED
    assert not StageResult.objects.filter(job=job, stage="fusion").exists()
    assert not TimelineResult.objects.filter(recording=recording).exists()
    recording.refresh_from_db()
    assert recording.status == Recording.Status.UPLOADED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_corrupt_recording_fails_at_once_with_a_message_for_the_clinician(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], tmp_path: Path
) -> None:
    damaged = corrupt_recording(recording.session, dr_rivera, tmp_path)
    job = _job(damaged, dr_rivera)

    assert analysis_run(job_id=job.id, hostname=WORKER_A) == RunOutcome.FAILED

    job = job_of(job.id)
    assert (job.status, job.error_code) == (Status.FAILED, ErrorCode.CORRUPT_MEDIA)
    assert job.error_message == clinician_message(ErrorCode.CORRUPT_MEDIA)
    assert "damaged" in job.error_message
    damaged.refresh_from_db()
    assert damaged.status == Recording.Status.FAILED
    assert damaged.file.storage.exists(damaged.file.name or "")  # the recording is kept


def test_every_code_a_job_can_end_with_has_a_sentence_for_the_clinician() -> None:
    assert set(JOB_FAILURE_CODES) <= set(CLINICIAN_MESSAGES)
    assert clinician_message("something_new") == clinician_message("internal_error")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_second_delivery_leaves_a_job_to_the_live_worker_that_holds_it(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], tmp_path: Path
) -> None:
    damaged = corrupt_recording(recording.session, dr_rivera, tmp_path)
    job = _job(damaged, dr_rivera)
    client = redis_client()
    heartbeat_beat(client, WORKER_A)  # A is alive and holds the job
    try:
        assert job_claim(job_id=job.id, worker=f"{WORKER_A}#1")
        assert analysis_run(job_id=job.id, hostname=WORKER_B) == RunOutcome.HELD
        assert job_of(job.id).worker == f"{WORKER_A}#1"
    finally:
        client.delete(f"moodline:worker-heartbeat:{WORKER_A}")

    # Once A's heartbeat is gone, the next delivery takes the job over and finishes it.
    assert analysis_run(job_id=job.id, hostname=WORKER_B) == RunOutcome.FAILED
    job = job_of(job.id)
    assert (job.status, job.attempts, job.worker) == (Status.FAILED, 2, worker_identity(WORKER_B))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_recovery_requeues_running_jobs_whose_worker_vanished_and_only_those(
    recording: Recording,
    dr_rivera: User,
    consents: dict[str, Consent],
    tmp_path: Path,
    broker: redis.Redis,
) -> None:
    lost = _job(recording, dr_rivera)
    held = _job(corrupt_recording(recording.session, dr_rivera, tmp_path), dr_rivera)
    heartbeat_beat(broker, WORKER_A)
    try:
        job_claim(job_id=lost.id, worker="celery@vanished#7")
        job_claim(job_id=held.id, worker=f"{WORKER_A}#1")
        long_ago = timezone.now() - dt.timedelta(minutes=10)
        AnalysisJob.objects.filter(id__in=[lost.id, held.id]).update(updated_at=long_ago)

        assert jobs_recover_stale() == [str(lost.id)]
    finally:
        broker.delete(f"moodline:worker-heartbeat:{WORKER_A}")

    assert (job_of(lost.id).status, job_of(held.id).status) == (Status.QUEUED, Status.RUNNING)
    assert broker.llen(ANALYSIS_QUEUE) == 1  # sent again, ready for any worker
    assert settings.BROKER_VISIBILITY_TIMEOUT_S > settings.ANALYSIS_HARD_TIME_LIMIT_S


@pytest.mark.django_db
def test_cancelling_for_a_patient_stops_only_that_patients_queued_and_running_jobs(
    recording: Recording,
    dr_rivera: User,
    consents: dict[str, Consent],
    tmp_path: Path,
    session_clip: Path,
) -> None:
    running = _job(recording, dr_rivera)
    job_claim(job_id=running.id, worker=f"{WORKER_A}#1")
    queued = _job(corrupt_recording(recording.session, dr_rivera, tmp_path), dr_rivera)
    someone_else = _job(
        RecordingFactory.create(
            session=TherapySessionFactory.create(clinician=dr_rivera), clip=session_clip
        ),
        dr_rivera,
    )

    cancelled = jobs_cancel_for_patient(patient_id=recording.session.patient_id)

    assert sorted(cancelled) == sorted([str(running.id), str(queued.id)])
    assert job_of(running.id).status == job_of(queued.id).status == Status.CANCELLED
    assert job_of(someone_else.id).status == Status.QUEUED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stage_output_stored_in_an_older_shape_is_recomputed_not_misread(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = _job(recording, dr_rivera)
    assert job_claim(job_id=job.id, worker=worker_identity(WORKER_A))
    # What a worker wrote before stage outputs were versioned, under today's very fingerprint:
    # the worst case, where only the shape tells it apart.
    with tempfile.TemporaryDirectory() as folder:
        local = recording_local_copy(recording, Path(folder))
        fingerprint = stage_fingerprints(local, pipeline_options_for(job))["ingest"]
    stale = {"media": {"duration_s": 999.0, "has_video": True}, "speech": [], "models": []}
    stage_result_save(
        job_id=job.id, stage="ingest", output={"fingerprint": fingerprint, "output": stale}
    )
    job_requeue(job_id=job.id, worker=worker_identity(WORKER_A))

    assert analysis_run(job_id=job.id, hostname=WORKER_B) == RunOutcome.SUCCEEDED

    stored = StageResult.objects.get(job=job, stage="ingest").output
    assert stored is not None
    ingest = stored["output"]
    assert ingest["version"] == IngestOutput.VERSION
    assert ingest["media"]["duration_s"] == pytest.approx(2.0, abs=0.2)
    assert TimelineResult.objects.get(job=job).document["duration_s"] == pytest.approx(2.0, abs=0.2)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_job_held_by_a_node_that_restarted_under_the_same_name_is_recovered(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], broker: redis.Redis
) -> None:
    job = _job(recording, dr_rivera)
    assert job_claim(job_id=job.id, worker=f"{WORKER_A}#41")
    ten_minutes_ago = timezone.now() - dt.timedelta(minutes=10)
    AnalysisJob.objects.filter(id=job.id).update(
        started_at=ten_minutes_ago, updated_at=ten_minutes_ago
    )
    # Worker A restarted a minute ago: its heartbeat is fresh, but it holds nothing any more.
    heartbeat_beat(broker, WORKER_A, started=time.time() - 60)
    try:
        assert jobs_recover_stale() == [str(job.id)]
    finally:
        broker.delete(f"moodline:worker-heartbeat:{WORKER_A}")

    assert job_of(job.id).status == Status.QUEUED
