"""Who is who: a clinician sets a speaker's or a face's role, and fusion alone runs again with
it — every other stage is reused from the recording's last analysis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.exceptions import RoleAssignmentInvalid
from clinic.heartbeat import redis_client
from clinic.models import AnalysisJob, Consent, Recording, StageResult, TimelineResult, User
from clinic.services import job_create
from clinic.services.analysis import ANALYSIS_QUEUE
from clinic.services.roles import RoleAssignment, roles_reassign
from clinic.worker import RunOutcome, analysis_run
from tests.clinic.timeline_factory import analysed

FAST = {"sample_fps": 2.0}


@pytest.fixture
def queue() -> Iterator[None]:
    redis_client().delete(ANALYSIS_QUEUE)
    yield
    redis_client().delete(ANALYSIS_QUEUE)


@pytest.mark.django_db
def test_roles_are_refused_for_a_speaker_the_timeline_does_not_have_or_a_made_up_role(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], queue: None
) -> None:
    analysed(recording)  # speakers S0 (clinician) and S1 (client), face track T1

    cases = [
        (RoleAssignment({"S7": "client"}, {}), "There is no speaker 'S7'"),
        (RoleAssignment({"S1": "therapist"}, {}), "'therapist' is not a role"),
        (RoleAssignment({}, {}), "at least one"),
    ]
    for assignment, message in cases:
        with pytest.raises(RoleAssignmentInvalid, match=message):
            roles_reassign(recording=recording, assignment=assignment, requested_by=dr_rivera)
    assert AnalysisJob.objects.filter(recording=recording).count() == 1


@pytest.mark.django_db
def test_the_api_queues_fusion_with_the_roles_kept_from_before(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], queue: None
) -> None:
    timeline = analysed(recording)
    timeline.job.options = {"role_overrides": [["face:T1", "client"]], **FAST}
    timeline.job.save()
    client = APIClient()
    client.force_login(dr_rivera)
    url = reverse("api-recording-roles", args=[recording.id])

    response = client.post(url, {"speakers": {"S1": "clinician"}}, format="json")

    assert response.status_code == 202, response.content
    job = AnalysisJob.objects.get(id=response.json()["id"])
    assert job.options["role_overrides"] == [["face:T1", "client"], ["speaker:S1", "clinician"]]
    assert job.options["sample_fps"] == FAST["sample_fps"]  # the stages' own options, kept
    refused = client.post(url, {"speakers": {"S1": "boss"}}, format="json")
    assert refused.status_code == 400
    assert "boss" in str(refused.json())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_role_change_runs_fusion_alone_and_the_timeline_shows_the_clinicians_choice(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent], queue: None
) -> None:
    first = job_create(
        recording=recording,
        requested_by=dr_rivera,
        options={"modalities": ["voice", "text", "face"], **FAST},
    )
    assert analysis_run(job_id=first.id, hostname="celery@worker-a") == RunOutcome.SUCCEEDED
    before = TimelineResult.objects.get(job=first).document
    assert before["speakers"], "the clip has speech, so a speaker"
    speaker = before["speakers"][0]["id"]
    new_role = "clinician" if before["speakers"][0]["role"] == "client" else "client"

    second = roles_reassign(
        recording=recording,
        assignment=RoleAssignment({speaker: new_role}, {}),
        requested_by=dr_rivera,
    )
    assert analysis_run(job_id=second.id, hostname="celery@worker-a") == RunOutcome.SUCCEEDED

    # Only fusion ran: every other stage was the first analysis's, found by its fingerprint.
    assert list(StageResult.objects.filter(job=second).values_list("stage", flat=True)) == [
        "fusion"
    ]
    after = TimelineResult.objects.get(job=second).document
    (changed,) = [s for s in after["speakers"] if s["id"] == speaker]
    assert (changed["role"], changed["role_source"]) == (new_role, "clinician")

    # A later change finds the other stages still, in the first analysis's rows.
    third = roles_reassign(
        recording=recording,
        assignment=RoleAssignment({speaker: before["speakers"][0]["role"]}, {}),
        requested_by=dr_rivera,
    )
    assert analysis_run(job_id=third.id, hostname="celery@worker-a") == RunOutcome.SUCCEEDED
    assert list(StageResult.objects.filter(job=third).values_list("stage", flat=True)) == ["fusion"]
    back = TimelineResult.objects.get(job=third).document
    assert [s["role"] for s in back["speakers"]] == [s["role"] for s in before["speakers"]]
    assert after["transcript"]
    assert after["duration_s"] == before["duration_s"]
