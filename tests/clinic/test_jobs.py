"""The analysis job state machine: every transition is a compare-and-swap."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from clinic.exceptions import JobAlreadyActive
from clinic.models import AnalysisJob, Recording, StageResult, TimelineResult
from clinic.selectors import job_active_for_recording, job_is_cancelled
from clinic.services import (
    job_cancel,
    job_claim,
    job_create,
    job_fail,
    job_progress,
    job_requeue,
    job_succeed,
    stage_result_save,
)
from clinic.services.jobs import TimelineInput

Status = AnalysisJob.Status
TIMELINE = TimelineInput(
    schema_version="moodline.timeline/1",
    document={"schema": "moodline.timeline/1", "segments": []},
    models_provenance=[{"name": "vader", "version": "3.3.2"}],
)


@pytest.mark.django_db
def test_a_job_runs_from_queued_to_succeeded_with_its_timeline(recording: Recording) -> None:
    job = job_create(recording=recording)
    assert job.status == Status.QUEUED
    assert job_active_for_recording(recording=recording) == job

    assert job_claim(job_id=job.id, worker="worker-1")
    assert job_progress(job_id=job.id, progress=40, stage="voice")
    job.refresh_from_db()
    recording.refresh_from_db()
    assert (job.status, job.progress, job.stage, job.attempts) == (Status.RUNNING, 40, "voice", 1)
    assert job.started_at is not None
    assert recording.status == Recording.Status.ANALYSING

    assert job_succeed(job_id=job.id, timeline=TIMELINE)
    job.refresh_from_db()
    recording.refresh_from_db()
    assert (job.status, job.progress) == (Status.SUCCEEDED, 100)
    assert job.finished_at is not None
    assert recording.status == Recording.Status.ANALYSED
    timeline = TimelineResult.objects.get(job=job)
    assert timeline.recording == recording
    assert timeline.models_provenance == [{"name": "vader", "version": "3.3.2"}]
    # A finished job cannot be claimed, failed or cancelled any more.
    assert not job_claim(job_id=job.id, worker="worker-2")
    assert not job_fail(job_id=job.id, code="corrupt_media", message="late")
    assert not job_cancel(job_id=job.id)


@pytest.mark.django_db
def test_a_failed_job_keeps_its_error_code_and_message(recording: Recording) -> None:
    job = job_create(recording=recording)
    job_claim(job_id=job.id, worker="worker-1")
    assert job_fail(job_id=job.id, code="no_audio_stream", message="The file has no sound.")
    job.refresh_from_db()
    recording.refresh_from_db()
    assert (job.status, job.error_code) == (Status.FAILED, "no_audio_stream")
    assert recording.status == Recording.Status.FAILED
    with pytest.raises(ValueError, match="error code"):
        job_fail(job_id=job.id, code="", message="no code")


@pytest.mark.django_db
def test_a_cancelled_job_tells_its_worker_to_stop_and_cannot_succeed(recording: Recording) -> None:
    job = job_create(recording=recording)
    job_claim(job_id=job.id, worker="worker-1")
    assert job_cancel(job_id=job.id)

    assert job_is_cancelled(job_id=job.id)
    assert not job_progress(job_id=job.id, progress=80, stage="fusion")
    assert not job_succeed(job_id=job.id, timeline=TIMELINE)
    assert not TimelineResult.objects.filter(job=job).exists()
    recording.refresh_from_db()
    assert recording.status == Recording.Status.UPLOADED


@pytest.mark.django_db
def test_a_recording_cannot_be_queued_twice(recording: Recording) -> None:
    job_create(recording=recording)
    with pytest.raises(JobAlreadyActive):
        job_create(recording=recording)


@pytest.mark.django_db
def test_a_job_whose_worker_was_lost_is_requeued_and_keeps_finished_stages(
    recording: Recording,
) -> None:
    job = job_create(recording=recording)
    job_claim(job_id=job.id, worker="worker-1")
    stage_result_save(job_id=job.id, stage="voice", output={"segments": 3}, duration_s=1.5)

    assert not job_requeue(job_id=job.id, worker="someone-else")
    assert job_requeue(job_id=job.id, worker="worker-1")
    assert job_claim(job_id=job.id, worker="worker-2")
    job.refresh_from_db()
    assert (job.attempts, job.worker) == (2, "worker-2")
    assert list(StageResult.objects.filter(job=job).values_list("stage", flat=True)) == ["voice"]
    # Saving a stage again replaces its output rather than adding a row.
    stage_result_save(job_id=job.id, stage="voice", output={"segments": 4})
    assert StageResult.objects.get(job=job, stage="voice").output == {"segments": 4}


@pytest.mark.django_db
def test_progress_outside_0_to_100_is_refused(recording: Recording) -> None:
    job = job_create(recording=recording)
    job_claim(job_id=job.id, worker="worker-1")
    with pytest.raises(ValueError, match="percentage"):
        job_progress(job_id=job.id, progress=120)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_racing_for_one_job_exactly_one_wins(recording: Recording) -> None:
    job = job_create(recording=recording)
    start_together = threading.Barrier(8)
    results: dict[str, bool] = {}

    def worker(name: str) -> None:
        try:
            start_together.wait()
            results[name] = job_claim(job_id=job.id, worker=name)
        finally:
            connection.close()  # each thread has its own database connection

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [name for name, won in results.items() if won]
    assert len(results) == 8
    assert len(winners) == 1
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Status.RUNNING, winners[0], 1)
