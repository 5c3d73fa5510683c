"""Consent: recorded with its signed form, required per modality, and withdrawn with effect.

Revoking consent stops running analysis and deletes what was derived from that modality; the
recording itself stays unless the patient also asks for it to be deleted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from clinic.models import (
    AnalysisJob,
    AuditEvent,
    Consent,
    ConsentScope,
    Patient,
    Recording,
    StageResult,
    TimelineResult,
    User,
)
from clinic.selectors import consent_active_modalities, consent_missing
from clinic.services import (
    consent_give,
    consent_revoke,
    job_claim,
    job_create,
    stage_result_save,
)
from clinic.services.consent import STAGES_OF_MODALITY, recordings_delete
from tests.clinic.analysed import TRANSCRIPT_TEXT, analyse

pytestmark = pytest.mark.django_db
# File deletions run once the transaction commits; tests capture and run those callbacks.
CommitCapture = Callable[..., AbstractContextManager[list[Callable[[], None]]]]


def _stages(recording: Recording) -> set[str]:
    return set(StageResult.objects.filter(job__recording=recording).values_list("stage", flat=True))


def test_an_admin_records_consent_with_its_signed_form_encrypted_at_rest(
    alex_admin: User, patient: Patient, recordings_dir: Path
) -> None:
    form = ContentFile(b"%PDF-1.7 signed by Sam Example", name="Sam Example consent.pdf")
    consent = consent_give(
        patient=patient,
        modality=ConsentScope.VOICE,
        form_version="2026-03",
        given_by="patient",
        recorded_by=alex_admin,
        signed_form=form,
    )

    assert consent_active_modalities(patient=patient) == {ConsentScope.VOICE}
    assert "Sam" not in str(consent.signed_form.name)  # the stored name carries ids only
    on_disk = recordings_dir / str(consent.signed_form.name)
    assert b"Sam Example" not in on_disk.read_bytes()
    with consent.signed_form.open("rb") as handle:
        assert handle.read() == b"%PDF-1.7 signed by Sam Example"
    event = AuditEvent.objects.get(action="consent.give")
    assert (event.actor, event.patient_id) == (alex_admin, patient.id)


def test_analysis_lists_the_consents_still_missing(patient: Patient) -> None:
    consent_give(
        patient=patient, modality=ConsentScope.ANALYSIS, form_version="v1", given_by="patient"
    )
    consent_give(
        patient=patient,
        modality=ConsentScope.FACE,
        form_version="v1",
        given_by="patient",
        given_at=timezone.now() - dt.timedelta(days=30),
        expires_at=timezone.now() - dt.timedelta(days=1),
    )
    assert consent_missing(
        patient=patient, modalities=[ConsentScope.ANALYSIS, "face", ConsentScope.VOICE]
    ) == [ConsentScope.FACE, ConsentScope.VOICE]


def test_revoking_video_consent_deletes_face_results_and_timelines_that_used_video(
    dr_rivera: User,
    consents: dict[str, Consent],
    recording: Recording,
    tmp_path: Path,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    with_video = analyse(recording, modalities=["face", "voice"], workdir=tmp_path)
    face_file = Path(StageResult.objects.get(job=with_video, stage="face").output_path)
    assert face_file.exists()

    with django_capture_on_commit_callbacks(execute=True):
        report = consent_revoke(consent=consents[ConsentScope.FACE], revoked_by=dr_rivera)

    assert report is not None
    # Voice links speakers to faces and fusion holds the face scores: both go with the face.
    assert _stages(recording) == {"ingest", "transcript"}
    assert not face_file.exists()
    assert not TimelineResult.objects.filter(recording=recording).exists()
    assert (report.deleted_stage_results, report.deleted_timelines) == (2, 1)
    # The recording itself is the patient's separate choice.
    recording.refresh_from_db()
    with recording.file.open("rb") as handle:
        assert handle.read(4)
    assert ConsentScope.FACE not in consent_active_modalities(patient=recording.session.patient)
    event = AuditEvent.objects.get(action="consent.revoke")
    assert event.details["deleted_timelines"] == 1


def test_a_timeline_made_without_the_revoked_modality_stays(
    consents: dict[str, Consent], recording: Recording, tmp_path: Path
) -> None:
    analyse(recording, modalities=["voice"], workdir=tmp_path)
    consent_revoke(consent=consents[ConsentScope.TEXT])
    assert TimelineResult.objects.filter(recording=recording).count() == 1
    assert "transcript" not in _stages(recording)


def test_revoking_consent_to_analysis_cancels_the_running_job(
    dr_rivera: User, consents: dict[str, Consent], recording: Recording
) -> None:
    job = job_create(recording=recording, options={"modalities": ["face", "voice"]})
    assert job_claim(job_id=job.id, worker="worker-1")

    report = consent_revoke(consent=consents[ConsentScope.ANALYSIS], revoked_by=dr_rivera)

    assert report is not None
    assert report.cancelled_job_ids == [str(job.id)]
    job.refresh_from_db()
    assert job.status == AnalysisJob.Status.CANCELLED
    assert consent_revoke(consent=consents[ConsentScope.ANALYSIS]) is None  # already revoked


def test_the_patient_may_also_have_their_recordings_deleted(
    consents: dict[str, Consent],
    recording: Recording,
    recordings_dir: Path,
    tmp_path: Path,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    analyse(recording, modalities=["face"], workdir=tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        report = consent_revoke(consent=consents[ConsentScope.FACE], delete_recordings=True)

    assert report is not None
    assert report.deleted_recordings == 1
    assert not Recording.objects.filter(id=recording.id).exists()
    assert [path for path in recordings_dir.rglob("*") if path.is_file()] == []
    assert recordings_delete(patient_id=recording.session.patient_id) == 0


def test_revoking_a_modality_removes_every_stage_output_downstream_of_it() -> None:
    from analysis.stages import STAGES

    downstream: dict[str, set[str]] = {}
    for stage in STAGES:  # in order: a stage's inputs are known before it
        downstream[stage.name] = {stage.name}
        for read in stage.reads:
            for first in downstream:
                if read in downstream[first]:
                    downstream[first].add(stage.name)
    first_stage = {
        ConsentScope.FACE: "face",
        ConsentScope.VOICE: "voice",
        ConsentScope.TEXT: "transcript",
    }
    for scope, name in first_stage.items():
        assert set(STAGES_OF_MODALITY[scope]) == downstream[name], scope
    assert set(STAGES_OF_MODALITY[ConsentScope.ANALYSIS]) == {s.name for s in STAGES}


def test_after_the_words_are_revoked_no_stored_blob_of_the_patient_holds_them(
    consents: dict[str, Consent],
    recording: Recording,
    tmp_path: Path,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    job = analyse(recording, modalities=["face", "voice", "text"], workdir=tmp_path)
    # Fusion keeps the transcript in its document, as a worker stores it.
    stage_result_save(
        job_id=job.id, stage="fusion", output={"transcript": [{"text": TRANSCRIPT_TEXT}]}
    )

    with django_capture_on_commit_callbacks(execute=True):
        consent_revoke(consent=consents[ConsentScope.TEXT])

    patient = recording.session.patient
    stored: list[str] = []  # every blob of this patient's, decrypted
    for result in StageResult.objects.filter(job__recording__session__patient=patient):
        stored.append(json.dumps(result.output))
        if result.output_path:
            stored.append(Path(result.output_path).read_text())
    for timeline in TimelineResult.objects.filter(recording__session__patient=patient):
        stored.append(json.dumps([timeline.document, timeline.overview]))
    for kept in Recording.objects.filter(session__patient=patient):
        with kept.file.open("rb") as handle:
            stored.append(handle.read().decode("latin-1"))
    assert stored, "the patient's other data is still there"
    assert not [blob for blob in stored if TRANSCRIPT_TEXT in blob]
