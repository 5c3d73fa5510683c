"""Asking for analysis: consent first, then one job, then a message on the real Redis broker."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from clinic.exceptions import ConsentRequired
from clinic.models import AnalysisJob, Consent, ConsentScope, Patient, Recording, User
from clinic.selectors import consent_active_modalities
from clinic.services import analysis_request, consent_give, consent_revoke, job_claim
from clinic.services.analysis import ANALYSIS_QUEUE, ANALYSIS_TASK

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysis_queue() -> Iterator[redis.Redis]:
    """The broker's "analysis" list, emptied before and after the test."""
    client: redis.Redis = redis.Redis.from_url(settings.REDIS["client"])
    client.delete(ANALYSIS_QUEUE)
    yield client
    client.delete(ANALYSIS_QUEUE)
    client.close()


def test_analysis_is_refused_without_consent(recording: Recording, dr_rivera: User) -> None:
    with pytest.raises(ConsentRequired, match="consent to emotional-trajectory analysis"):
        analysis_request(recording=recording, requested_by=dr_rivera)
    assert not AnalysisJob.objects.exists()


def test_analysis_is_refused_when_no_recorded_modality_may_be_looked_at(
    recording: Recording, patient: Patient, dr_rivera: User
) -> None:
    consent_give(
        patient=patient, modality=ConsentScope.ANALYSIS, form_version="2026-01", given_by="patient"
    )
    with pytest.raises(ConsentRequired, match="any of video, audio or transcript"):
        analysis_request(recording=recording, requested_by=dr_rivera)
    assert not AnalysisJob.objects.exists()


def test_analysis_is_queued_on_the_broker_only_once_the_job_is_committed(
    recording: Recording,
    dr_rivera: User,
    consents: dict[str, Consent],
    analysis_queue: redis.Redis,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = analysis_request(recording=recording, requested_by=dr_rivera)
        assert analysis_queue.llen(ANALYSIS_QUEUE) == 0  # nothing sent before the commit
    assert len(callbacks) == 1

    message = json.loads(analysis_queue.lpop(ANALYSIS_QUEUE))
    assert message["headers"]["task"] == ANALYSIS_TASK
    assert message["headers"]["argsrepr"] == repr([str(job.id)])
    assert job.options["modalities"] == ["face", "text", "voice"]


def test_the_job_uses_only_the_modalities_consented_to(
    recording: Recording, patient: Patient, dr_rivera: User
) -> None:
    consent_give(
        patient=patient, modality=ConsentScope.ANALYSIS, form_version="2026-01", given_by="patient"
    )
    consent_give(
        patient=patient, modality=ConsentScope.VOICE, form_version="2026-01", given_by="patient"
    )
    job = analysis_request(recording=recording, requested_by=dr_rivera)
    assert job.options["modalities"] == ["voice"]


def test_consent_counts_only_while_given_not_expired_and_not_revoked(
    patient: Patient, dr_rivera: User
) -> None:
    now = timezone.now()
    consent_give(
        patient=patient,
        modality=ConsentScope.FACE,
        form_version="2026-01",
        given_by="patient",
        given_at=now - dt.timedelta(days=30),
        expires_at=now - dt.timedelta(days=1),
    )
    audio = consent_give(
        patient=patient, modality=ConsentScope.VOICE, form_version="2026-01", given_by="patient"
    )
    assert consent_active_modalities(patient=patient) == {"voice"}
    assert consent_active_modalities(patient=patient, at=now - dt.timedelta(days=2)) == {"face"}

    assert consent_revoke(consent=audio, revoked_by=dr_rivera)
    assert not consent_revoke(consent=audio, revoked_by=dr_rivera)
    assert consent_active_modalities(patient=patient) == set()


def test_revoking_consent_to_analysis_cancels_the_running_job(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = analysis_request(recording=recording, requested_by=dr_rivera)
    job_claim(job_id=job.id, worker="worker-1")

    consent_revoke(consent=consents[ConsentScope.ANALYSIS], revoked_by=dr_rivera)

    job.refresh_from_db()
    assert job.status == AnalysisJob.Status.CANCELLED
    with pytest.raises(ConsentRequired):
        analysis_request(recording=recording, requested_by=dr_rivera)
