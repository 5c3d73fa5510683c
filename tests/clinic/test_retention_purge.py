"""Retention: what the purge deletes, what a legal hold protects, and what is left afterwards.

P-0042 had one session yesterday; the purge is run as if years had passed. After a purge not
one row in any table, and not one file under MEDIA_ROOT, may still point at them; the audit
trail alone keeps their id, in events that hold no PHI.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import models
from django.utils import timezone

from clinic.models import (
    Annotation,
    AuditEvent,
    Consent,
    ConsentScope,
    LegalHold,
    Organisation,
    Patient,
    Recording,
    RetentionPolicy,
    TherapySession,
    User,
)
from clinic.services import consent_give
from clinic.services.retention import retention_plan, retention_purge
from clinic.tasks_housekeeping import PURGE_TASK
from tests.clinic.analysed import analyse
from tests.factories import (
    CareTeamMembershipFactory,
    PatientFactory,
    RecordingFactory,
    TherapySessionFactory,
)

pytestmark = pytest.mark.django_db
CommitCapture = Callable[..., AbstractContextManager[list[Callable[[], None]]]]

EIGHT_YEARS = dt.timedelta(days=8 * 366)
HUNDRED_DAYS = dt.timedelta(days=100)


@pytest.fixture
def full_record(
    patient: Patient,
    dr_rivera: User,
    recording: Recording,
    consents: dict[str, Consent],
    settings: Any,
) -> Patient:
    """P-0042 with everything a patient accumulates: analysis, notes, a signed form, a hold."""
    workdir = Path(settings.MEDIA_ROOT) / "analysis"
    workdir.mkdir()
    analyse(recording, modalities=["video", "audio", "transcript"], workdir=workdir)
    Annotation.objects.create(
        session=recording.session, author=dr_rivera, t_s=1.0, text="Tearful when the move came up."
    )
    consent_give(
        patient=patient,
        modality=ConsentScope.VOICE,
        form_version="2026-03",
        given_by="patient",
        signed_form=ContentFile(b"%PDF signed", name="form.pdf"),
    )
    placed = timezone.now() - dt.timedelta(days=1)
    LegalHold.objects.create(
        patient=patient, reason="matter 12", placed_at=placed, released_at=placed
    )
    return patient


@pytest.fixture
def other_patient(northside: Organisation, dr_rivera: User, session_clip: Path) -> Recording:
    """P-0007, a child of ten, whose records are kept until years after they come of age."""
    patient = PatientFactory.create(
        organisation=northside, pseudonym="P-0007", year_of_birth=timezone.now().year - 10
    )
    CareTeamMembershipFactory.create(patient=patient, clinician=dr_rivera)
    session = TherapySessionFactory.create(patient=patient, clinician=dr_rivera)
    return RecordingFactory.create(session=session, clip=session_clip)


def _rows_of_patient(patient_id: uuid.UUID) -> dict[str, set[Any]]:
    """Every row of every table that reaches the patient through foreign keys."""
    found: dict[str, set[Any]] = {}
    for model in apps.get_models(include_auto_created=True):
        for lookup in _paths_to_patient(model, depth=4):
            keys = set(
                model._default_manager.filter(**{lookup: patient_id}).values_list("pk", flat=True)
            )
            if keys:
                found.setdefault(model._meta.label, set()).update(keys)
    return found


def _paths_to_patient(model: type[models.Model], depth: int) -> list[str]:
    if model is Patient:
        return ["pk"]
    if depth == 0:
        return []
    paths: list[str] = []
    for field in model._meta.get_fields():
        if isinstance(field, models.ForeignKey) and field.related_model is not None:
            related = field.related_model
            assert isinstance(related, type)
            for rest in _paths_to_patient(related, depth - 1):
                paths.append(f"{field.name}__{rest}" if rest != "pk" else field.name)
    return paths


def _rows_mentioning(needles: list[str]) -> list[str]:
    """Rows whose text, JSON or UUID columns (decrypted) mention any of `needles`."""
    hits: list[str] = []
    for model in apps.get_models(include_auto_created=True):
        columns = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(
                field,
                (
                    models.CharField,
                    models.TextField,
                    models.JSONField,
                    models.UUIDField,
                    models.ForeignKey,
                ),
            )
        ]
        for row in model._default_manager.values_list("pk", *columns):
            for column, value in zip(columns, row[1:], strict=True):
                if any(needle in str(value) for needle in needles):
                    hits.append(f"{model._meta.label}.{column}")
    return hits


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def test_a_purge_leaves_no_row_and_no_file_of_the_purged_patient(
    full_record: Patient,
    other_patient: Recording,
    settings: Any,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    patient_id = full_record.id
    media_root = Path(settings.MEDIA_ROOT)
    rows_before = _rows_of_patient(patient_id)
    assert {"clinic.Recording", "clinic.StageResult", "clinic.TimelineResult"} <= set(rows_before)
    assert {"clinic.Annotation", "clinic.Consent", "clinic.LegalHold"} <= set(rows_before)
    kept_file = media_root / "recordings" / str(other_patient.file.name)
    assert len(_files_under(media_root)) == 4  # two recordings, a signed form, a face output

    with django_capture_on_commit_callbacks(execute=True):
        plan = retention_purge(at=timezone.now() + EIGHT_YEARS)

    assert plan.patients == [patient_id]
    for label, keys in rows_before.items():
        model = apps.get_model(label)
        assert not model._default_manager.filter(pk__in=keys).exists(), label
    mentions = _rows_mentioning([str(patient_id), str(patient_id.hex), "P-0042"])
    # The audit trail keeps the id (never a name) so that the purge itself stays accountable.
    assert set(mentions) == {"clinic.AuditEvent.patient_id"}
    assert _files_under(media_root) == {kept_file}
    assert [path for path in media_root.rglob("*") if str(patient_id) in str(path)] == []
    assert Recording.objects.get(id=other_patient.id).file.name
    event = AuditEvent.objects.get(action="retention.purge_patient")
    assert event.patient_id == patient_id
    assert event.details["recordings"] == 1
    assert event.details["annotations"] == 1


def test_a_legal_hold_suspends_the_purge_until_it_is_released(
    full_record: Patient,
    alex_admin: User,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    hold = LegalHold.objects.create(patient=full_record, reason="subpoena 2026-117")
    later = timezone.now() + EIGHT_YEARS

    plan = retention_purge(at=later)
    assert (plan.patients, plan.held_patients) == ([], [full_record.id])
    assert Patient.objects.filter(id=full_record.id).exists()
    assert Recording.objects.filter(session__patient=full_record).exclude(file="").exists()

    LegalHold.objects.filter(id=hold.id).update(released_at=timezone.now(), released_by=alex_admin)
    with django_capture_on_commit_callbacks(execute=True):
        retention_purge(at=later)
    assert not Patient.objects.filter(id=full_record.id).exists()


def test_a_session_hold_protects_the_whole_patient_and_that_sessions_media(
    full_record: Patient, recording: Recording
) -> None:
    LegalHold.objects.create(session=recording.session, reason="complaint 88")
    plan = retention_plan(at=timezone.now() + EIGHT_YEARS)
    assert (plan.patients, plan.recording_media) == ([], [])


def test_media_goes_after_the_policy_days_while_the_results_stay(
    full_record: Patient,
    recording: Recording,
    northside: Organisation,
    recordings_dir: Path,
    django_capture_on_commit_callbacks: CommitCapture,
) -> None:
    RetentionPolicy.objects.create(organisation=northside, recording_days_after_analysis=30)
    stored = recordings_dir / str(recording.file.name)
    assert retention_plan(at=timezone.now() + dt.timedelta(days=29)).recording_media == []

    with django_capture_on_commit_callbacks(execute=True):
        plan = retention_purge(at=timezone.now() + dt.timedelta(days=31))

    assert plan.recording_media == [recording.id]
    recording.refresh_from_db()
    assert not recording.file
    assert not stored.exists()
    assert recording.timelines.count() == 1
    assert TherapySession.objects.filter(patient=full_record).exists()


def test_a_minor_is_kept_until_some_years_after_coming_of_age(
    patient: Patient, therapy_session: TherapySession
) -> None:
    patient.year_of_birth = timezone.now().year - 10
    patient.save()
    assert retention_plan(at=timezone.now() + EIGHT_YEARS).patients == []
    assert retention_plan(at=timezone.now() + dt.timedelta(days=366 * 12)).patients == [patient.id]


def test_the_dry_run_reports_without_deleting(
    full_record: Patient, capsys: pytest.CaptureFixture[str]
) -> None:
    retention_purge(at=timezone.now() + HUNDRED_DAYS, dry_run=True)
    call_command("retention_purge", "--dry-run")
    assert '"patients": []' in capsys.readouterr().out
    plan = retention_purge(at=timezone.now() + EIGHT_YEARS, dry_run=True)
    assert plan.patients == [full_record.id]
    assert Patient.objects.filter(id=full_record.id).exists()
    assert AuditEvent.objects.filter(action="retention.dry_run").count() == 3


def test_the_purge_runs_nightly_from_the_beat_schedule(settings: Any) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["retention-purge"]["task"] == PURGE_TASK
