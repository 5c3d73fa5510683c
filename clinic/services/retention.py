"""Retention: deleting what a practice no longer may keep, unless a legal hold says otherwise.

Two clocks run (RetentionPolicy): the media of a recording goes some days after its analysis
finished, and everything about a patient (sessions, recordings, results, notes, consents, the
patient row itself) goes some years after their last session, or after they came of age plus
some years when that is later. An active legal hold on the patient, or on a session, suspends
both. The purge leaves one audit event per patient purged, holding ids and counts only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import (
    AnalysisJob,
    Annotation,
    CareTeamMembership,
    Consent,
    ExternalPatientId,
    IdempotentRequest,
    LegalHold,
    Organisation,
    Patient,
    Recording,
    RetentionPolicy,
    StageResult,
    TherapySession,
    TimelineResult,
    User,
)
from clinic.models.sessions import recordings_storage
from clinic.scopes import WebhookEvent
from clinic.scratch import scratch_forget_jobs
from clinic.services.jobs import job_cancel
from clinic.services.resumable_uploads import uploads_discard_of_patient
from clinic.services.webhooks import webhook_event_emit
from clinic.storage import paths_delete_on_commit, stored_files_delete_on_commit

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class PurgePlan:
    """What a purge at `at` deletes: the dry-run report, and the purge's own to-do list."""

    at: dt.datetime
    recording_media: list[uuid.UUID] = field(default_factory=list)  # recordings losing media
    patients: list[uuid.UUID] = field(default_factory=list)  # patients deleted entirely
    held_patients: list[uuid.UUID] = field(default_factory=list)  # due, but on legal hold

    def as_report(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "recording_media": [str(key) for key in self.recording_media],
            "patients": [str(key) for key in self.patients],
            "held_patients": [str(key) for key in self.held_patients],
        }


@transaction.atomic
def legal_hold_place(
    *,
    reason: str,
    patient: Patient | None = None,
    session: TherapySession | None = None,
    placed_by: User | None = None,
) -> LegalHold:
    """Suspend deletion of a patient's records, or of one session's, until released."""
    hold = LegalHold.objects.create(
        patient=patient, session=session, reason=reason, placed_by=placed_by
    )
    audit_record(
        actor=placed_by,
        action="legal_hold.place",
        obj=hold,
        patient=patient.id if patient is not None else session.patient_id if session else None,
        details={"session": str(session.id) if session is not None else ""},
    )
    return hold


@transaction.atomic
def legal_hold_release(*, hold: LegalHold, released_by: User | None = None) -> bool:
    """Release an active hold; False when it was already released."""
    released = LegalHold.objects.filter(id=hold.id, released_at__isnull=True).update(
        released_at=timezone.now(), released_by=released_by
    )
    if released:
        patient_id = hold.patient_id
        if patient_id is None and hold.session_id is not None:
            session = TherapySession.objects.only("patient_id").get(id=hold.session_id)
            patient_id = session.patient_id
        audit_record(actor=released_by, action="legal_hold.release", obj=hold, patient=patient_id)
    return bool(released)


def retention_policy_for(organisation: Organisation | uuid.UUID) -> RetentionPolicy:
    """The practice's policy, or the defaults (unsaved) when it has set none."""
    organisation_id = organisation.id if isinstance(organisation, Organisation) else organisation
    policy = RetentionPolicy.objects.filter(organisation_id=organisation_id).first()
    return policy or RetentionPolicy(organisation_id=organisation_id)


def patient_retention_ends(
    *, patient: Patient, policy: RetentionPolicy, last_session: dt.date | None
) -> dt.date:
    """The day from which the patient's records may be purged."""
    start = last_session or patient.created_at.date()
    ends = _add_years(start, policy.results_years_after_last_session)
    if patient.year_of_birth is not None:
        of_age = dt.date(patient.year_of_birth + policy.age_of_majority_years, 12, 31)
        ends = max(ends, _add_years(of_age, policy.results_years_after_majority))
    return ends


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year without one
        return day.replace(year=day.year + years, day=28)


def _held_patient_ids() -> set[uuid.UUID]:
    holds = LegalHold.objects.active()
    return {key for key in holds.values_list("patient_id", flat=True) if key} | set(
        holds.filter(session__isnull=False).values_list("session__patient_id", flat=True)
    )


def _held_session_ids() -> set[uuid.UUID]:
    return {
        key
        for key in LegalHold.objects.active().values_list("session_id", flat=True)
        if key is not None
    }


def retention_plan(*, at: dt.datetime | None = None) -> PurgePlan:
    """What the purge would delete at `at` (now by default), without deleting anything."""
    moment = at or timezone.now()
    held_patients = _held_patient_ids()
    held_sessions = _held_session_ids()
    due_patients: list[uuid.UUID] = []
    on_hold: list[uuid.UUID] = []
    patients = Patient.objects.annotate(last_session=Max("sessions__date")).order_by("id")
    for patient in patients:
        policy = retention_policy_for(patient.organisation_id)
        last_session: dt.date | None = getattr(patient, "last_session", None)
        ends = patient_retention_ends(patient=patient, policy=policy, last_session=last_session)
        if moment.date() < ends:
            continue
        (on_hold if patient.id in held_patients else due_patients).append(patient.id)
    media: list[uuid.UUID] = []
    finished = (
        Recording.objects.exclude(file="")
        .exclude(session__patient_id__in=held_patients | set(due_patients))
        .exclude(session_id__in=held_sessions)
        .annotate(
            analysed_at=Max(
                "jobs__finished_at", filter=Q(jobs__status=AnalysisJob.Status.SUCCEEDED)
            )
        )
        .filter(analysed_at__isnull=False)
        .select_related("session__patient")
        .order_by("id")
    )
    for recording in finished:
        policy = retention_policy_for(recording.session.patient.organisation_id)
        analysed_at: dt.datetime = recording.analysed_at
        if moment >= analysed_at + dt.timedelta(days=policy.recording_days_after_analysis):
            media.append(recording.id)
    return PurgePlan(at=moment, recording_media=media, patients=due_patients, held_patients=on_hold)


def retention_purge(*, at: dt.datetime | None = None, dry_run: bool = False) -> PurgePlan:
    """Carry out the plan at `at`; with `dry_run`, only report it. Returns the plan."""
    plan = retention_plan(at=at)
    if dry_run:
        audit_record(actor=None, action="retention.dry_run", details=_counts(plan))
        return plan
    for recording_id in plan.recording_media:
        recording_media_purge(recording_id=recording_id)
    for patient_id in plan.patients:
        patient_purge(patient_id=patient_id)
    audit_record(actor=None, action="retention.purge", details=_counts(plan))
    return plan


def _counts(plan: PurgePlan) -> dict[str, int]:
    return {
        "recording_media": len(plan.recording_media),
        "patients": len(plan.patients),
        "held_patients": len(plan.held_patients),
    }


@transaction.atomic
def recording_media_purge(*, recording_id: uuid.UUID, purged_by: User | None = None) -> bool:
    """Delete a recording's media file; the row and its results stay. False if already gone."""
    recording = Recording.objects.select_for_update().filter(id=recording_id).first()
    if recording is None or not recording.file:
        return False
    name = str(recording.file.name)
    Recording.objects.filter(id=recording_id).update(file="")
    webhook_event_emit(
        event=WebhookEvent.RECORDING_PURGED,
        organisation_id=recording.session.patient.organisation_id,
        patient_id=recording.session.patient_id,
        data={"session": str(recording.session_id), "recording": str(recording_id)},
    )
    stored_files_delete_on_commit(recordings_storage(), [name])
    audit_record(
        actor=purged_by,
        action="retention.purge_media",
        obj=recording,
        patient=recording.session.patient_id,
        details={"size_bytes": recording.size_bytes},
    )
    return True


@transaction.atomic
def patient_purge(*, patient_id: uuid.UUID, purged_by: User | None = None) -> dict[str, int]:
    """Delete the patient and every row and file about them; returns counts per kind.

    Refuses (ValueError) while a legal hold is active. The audit trail keeps its events (they
    hold ids, not PHI) and gains one saying the purge happened.
    """
    patient = Patient.objects.select_for_update().get(id=patient_id)
    if patient.id in _held_patient_ids():
        raise ValueError("The patient is on legal hold.")
    # Told now, while the care team that decides who may be told still exists.
    webhook_event_emit(
        event=WebhookEvent.PATIENT_PURGED,
        organisation_id=patient.organisation_id,
        patient_id=patient.id,
        data={},
    )
    recordings = Recording.objects.filter(session__patient=patient)
    for job_id in AnalysisJob.objects.filter(
        recording__in=recordings, status__in=AnalysisJob.ACTIVE_STATUSES
    ).values_list("id", flat=True):
        job_cancel(job_id=job_id, cancelled_by=purged_by)
    stage_results = StageResult.objects.filter(job__recording__in=recordings)
    stage_paths = [path for path in stage_results.values_list("output_path", flat=True) if path]
    job_ids = list(
        AnalysisJob.objects.filter(recording__in=recordings).values_list("id", flat=True)
    )
    media = [name for name in recordings.values_list("file", flat=True) if name]
    consents = Consent.objects.filter(patient=patient)
    forms = [name for name in consents.values_list("signed_form", flat=True) if name]
    counts = {
        # Before the sessions: their deletion would take the rows but leave the pieces' files.
        "uploads_in_progress": uploads_discard_of_patient(patient_id=patient.id),
        "stage_results": stage_results.delete()[0],
        "timelines": TimelineResult.objects.filter(recording__in=recordings).delete()[0],
        "jobs": AnalysisJob.objects.filter(recording__in=recordings).delete()[0],
        "recordings": recordings.delete()[0],
        "annotations": Annotation.objects.filter(session__patient=patient).delete()[0],
        "legal_holds": LegalHold.objects.filter(
            Q(patient=patient) | Q(session__patient=patient)
        ).delete()[0],
        "sessions": TherapySession.objects.filter(patient=patient).delete()[0],
        "consents": consents.delete()[0],
        "care_team": CareTeamMembership.objects.filter(patient=patient).delete()[0],
        "external_ids": ExternalPatientId.objects.filter(patient=patient).delete()[0],
        "idempotent_answers": IdempotentRequest.objects.filter(patient=patient).delete()[0],
    }
    patient.delete()
    stored_files_delete_on_commit(recordings_storage(), media + forms)
    paths_delete_on_commit(stage_paths)
    transaction.on_commit(partial(scratch_forget_jobs, job_ids))  # working copies, if any here
    audit_record(
        actor=purged_by, action="retention.purge_patient", patient=patient_id, details=counts
    )
    return counts
