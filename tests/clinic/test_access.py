"""Who sees what: the care team decides, and missing looks exactly like forbidden."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from clinic.access import NOT_FOUND_MESSAGE, access_patient, access_recording, access_session
from clinic.exceptions import NotAClinician
from clinic.models import Patient, Recording, User
from clinic.roles import Role
from clinic.services import care_team_add
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_dr_rivera_sees_her_patient_their_session_and_its_recording(
    dr_rivera: User, patient: Patient, recording: Recording
) -> None:
    assert access_patient(dr_rivera, patient.id) == patient
    assert access_session(dr_rivera, str(recording.session_id)) == recording.session
    assert access_recording(dr_rivera, recording.id) == recording


def test_a_colleague_off_the_care_team_gets_the_same_404_as_for_a_missing_id(
    dr_okafor: User, patient: Patient, recording: Recording
) -> None:
    checks: list[tuple[Callable[[User, uuid.UUID | str], object], uuid.UUID | str]] = [
        (access_patient, patient.id),
        (access_session, recording.session_id),
        (access_recording, recording.id),
        (access_recording, uuid.uuid4()),
        (access_recording, "not-a-uuid"),
    ]
    for check, object_id in checks:
        with pytest.raises(Http404) as refusal:
            check(dr_okafor, object_id)
        assert str(refusal.value) == NOT_FOUND_MESSAGE


def test_joining_the_care_team_opens_the_patient_to_a_colleague(
    dr_okafor: User, alex_admin: User, patient: Patient, recording: Recording
) -> None:
    care_team_add(patient=patient, clinician=dr_okafor, added_by=alex_admin)
    assert access_recording(dr_okafor, recording.id) == recording


def test_the_practice_admin_sees_patients_but_no_recordings(
    alex_admin: User, patient: Patient, recording: Recording
) -> None:
    assert access_patient(alex_admin, patient.id) == patient
    with pytest.raises(Http404):
        access_session(alex_admin, recording.session_id)
    with pytest.raises(Http404):
        access_recording(alex_admin, recording.id)


def test_auditors_inactive_and_anonymous_users_see_no_clinical_data(
    audrey_auditor: User, dr_rivera: User, patient: Patient, recording: Recording
) -> None:
    dr_rivera.is_active = False
    dr_rivera.save()
    for user in (audrey_auditor, dr_rivera, AnonymousUser()):
        with pytest.raises(Http404):
            access_patient(user, patient.id)
        with pytest.raises(Http404):
            access_recording(user, recording.id)


def test_only_clinicians_of_the_same_practice_can_join_a_care_team(
    alex_admin: User, patient: Patient
) -> None:
    elsewhere = UserFactory.create(username="dr_far_away", role=Role.CLINICIAN)
    for outsider in (alex_admin, elsewhere):
        with pytest.raises(NotAClinician):
            care_team_add(patient=patient, clinician=outsider, added_by=alex_admin)
    assert list(patient.clinicians.values_list("username", flat=True)) == ["dr_rivera"]
