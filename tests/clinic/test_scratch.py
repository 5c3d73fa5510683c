"""Decrypted working copies live in one scratch folder per node and never outlive their job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from clinic.models import Consent, Patient, Recording, User
from clinic.scratch import node_scratch, scratch_empty_node, scratch_remove_stale
from clinic.services import job_claim, job_create
from clinic.services.retention import patient_purge
from clinic.worker import RunOutcome, analysis_run
from tests.factories import RecordingFactory

pytestmark = pytest.mark.django_db
NODE = "celery@scratch-test"


def _leftover(node: str, job_id: object) -> Path:
    """What a killed worker leaves: a job folder holding a decrypted recording."""
    folder = node_scratch(node) / f"job-{job_id}"
    folder.mkdir(parents=True)
    (folder / "recording.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 decrypted")
    return folder


def test_a_node_that_starts_removes_what_its_previous_run_left(recording: Recording) -> None:
    job = job_create(recording=recording, options={})
    mine, other = _leftover(NODE, job.id), _leftover("celery@another", job.id)

    assert scratch_empty_node(NODE) == 1

    assert not mine.exists()
    assert other.exists()  # another node's work is not this node's to touch


def test_before_a_job_the_copies_of_jobs_no_live_process_runs_are_removed(
    recording: Recording, session_clip: Path
) -> None:
    another = RecordingFactory.create(session=recording.session, clip=session_clip)
    orphan = job_create(recording=recording, options={})
    held = job_create(recording=another, options={})
    assert job_claim(job_id=orphan.id, worker=f"{NODE}#999999")  # a pool child that died
    assert job_claim(job_id=held.id, worker=f"{NODE}#{os.getpid()}")  # a live one
    orphaned, running = _leftover(NODE, orphan.id), _leftover(NODE, held.id)

    assert scratch_remove_stale(NODE) == 1

    assert not orphaned.exists()
    assert running.exists()


def test_purging_a_patient_removes_their_working_copies(
    patient: Patient,
    recording: Recording,
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = job_create(recording=recording, options={})
    left = _leftover(NODE, job.id)

    with django_capture_on_commit_callbacks(execute=True):
        patient_purge(patient_id=patient.id)

    assert not left.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_analysis_decrypts_into_the_scratch_folder_and_leaves_nothing_there(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], settings
) -> None:
    job = job_create(recording=recording, requested_by=dr_rivera, options={"modalities": ["voice"]})

    assert analysis_run(job_id=job.id, hostname=NODE) == RunOutcome.SUCCEEDED

    scratch = Path(settings.ANALYSIS_SCRATCH_DIR)
    assert scratch.is_dir()
    assert [p for p in scratch.rglob("*") if p.is_file()] == []
