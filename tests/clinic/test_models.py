"""The database itself refuses rows that break the domain's invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AnalysisJob, AuditEvent, Patient, Recording, StageResult, User
from clinic.models.audit import AppendOnlyError
from clinic.roles import Role
from clinic.services import job_create
from tests.factories import ConsentFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_a_pseudonym_is_unique_within_a_practice(patient: Patient) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory.create(organisation=patient.organisation, pseudonym="P-0042")
    # Another practice may use the same reference for its own patient.
    assert PatientFactory.create(pseudonym="P-0042").pseudonym == "P-0042"


def test_consent_cannot_expire_before_it_was_given(patient: Patient) -> None:
    given_at = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentFactory.create(
            patient=patient, given_at=given_at, expires_at=given_at - dt.timedelta(days=1)
        )


def test_job_progress_is_a_percentage(recording: Recording) -> None:
    job = job_create(recording=recording)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisJob.objects.filter(id=job.id).update(progress=101)


def test_a_finished_job_has_a_finish_time_and_an_unfinished_one_does_not(
    recording: Recording,
) -> None:
    job = job_create(recording=recording)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisJob.objects.filter(id=job.id).update(status=AnalysisJob.Status.CANCELLED)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisJob.objects.filter(id=job.id).update(finished_at=timezone.now())


def test_a_failed_job_names_its_error(recording: Recording) -> None:
    job = job_create(recording=recording)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisJob.objects.filter(id=job.id).update(
            status=AnalysisJob.Status.FAILED, finished_at=timezone.now()
        )


def test_a_recording_has_at_most_one_active_job_at_the_database_level(
    recording: Recording,
) -> None:
    AnalysisJob.objects.create(recording=recording)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnalysisJob.objects.create(recording=recording)
    # Finished jobs do not count: the recording can be analysed again later.
    AnalysisJob.objects.filter(recording=recording).update(
        status=AnalysisJob.Status.CANCELLED, finished_at=timezone.now()
    )
    assert AnalysisJob.objects.create(recording=recording).status == AnalysisJob.Status.QUEUED


def test_a_stage_result_is_kept_once_per_job_and_stage(recording: Recording) -> None:
    job = job_create(recording=recording)
    StageResult.objects.create(job=job, stage="voice", output={"segments": []})
    with pytest.raises(IntegrityError), transaction.atomic():
        StageResult.objects.create(job=job, stage="voice", output={"segments": []})
    with pytest.raises(IntegrityError), transaction.atomic():
        StageResult.objects.create(job=job, stage="face")  # neither inline output nor a file


def test_a_recording_checksum_must_be_a_sha256_hex_digest(recording: Recording) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Recording.objects.filter(id=recording.id).update(sha256="not-a-digest")


def test_audit_events_cannot_be_changed_or_deleted_even_with_raw_sql(dr_rivera: User) -> None:
    event = audit_record(actor=dr_rivera, action="patient.view")
    event.action = "patient.nothing_to_see"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).update(action="patient.nothing_to_see")
    with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).delete()
    with (
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM clinic_auditevent")
    assert AuditEvent.objects.get(id=event.id).action == "patient.view"


def test_roles_come_with_their_permissions(
    dr_rivera: User, alex_admin: User, audrey_auditor: User
) -> None:
    assert dr_rivera.is_clinician
    assert not dr_rivera.is_auditor
    assert dr_rivera.has_perm("clinic.view_recording")
    assert not dr_rivera.has_perm("clinic.view_auditevent")
    assert alex_admin.is_practice_admin
    assert alex_admin.has_perm("clinic.add_careteammembership")
    assert not alex_admin.has_perm("clinic.view_recording")
    assert audrey_auditor.is_auditor
    assert audrey_auditor.has_perm("clinic.view_auditevent")
    assert not audrey_auditor.has_perm("clinic.view_patient")
    assert {str(role) for role in Role} <= set(
        dr_rivera.groups.model.objects.values_list("name", flat=True)
    )
