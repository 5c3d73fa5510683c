"""A member of staff's token: the account and its roles are read in one query, and a token
that no longer opens the API says so."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.api.auth import StaffTokenAuthentication
from clinic.models import Patient, User
from clinic.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_clinician_s_token_reads_the_patient_with_roles_read_alongside(
    dr_rivera: User, patient: Patient
) -> None:
    client = _client(Token.objects.create(user=dr_rivera).key)

    with CaptureQueriesContext(connection) as queries:
        answer = client.get(f"/api/v1/patients/{patient.id}/")

    assert answer.status_code == 200
    assert answer.json()["pseudonym"] == patient.pseudonym
    # No query of its own for the caller's groups: they came with the token.
    assert not [q for q in queries if q["sql"].startswith('SELECT "auth_group"."name"')]


def test_a_token_of_an_account_without_roles_opens_no_patient(patient: Patient) -> None:
    nobody = UserFactory.create(organisation=patient.organisation, role=None)
    answer = _client(Token.objects.create(user=nobody).key).get(f"/api/v1/patients/{patient.id}/")
    assert answer.status_code == 404


def test_a_deactivated_account_s_token_and_an_unknown_token_are_refused(
    dr_rivera: User, patient: Patient
) -> None:
    key = Token.objects.create(user=dr_rivera).key
    dr_rivera.is_active = False
    dr_rivera.save()

    for token in (key, "0" * 40):
        answer = _client(token).get(f"/api/v1/patients/{patient.id}/")
        assert answer.status_code == 401


def test_a_deleted_token_is_refused_on_the_very_next_request(
    dr_rivera: User, patient: Patient
) -> None:
    token = Token.objects.create(user=dr_rivera)
    client = _client(token.key)
    assert client.get(f"/api/v1/patients/{patient.id}/").status_code == 200

    token.delete()

    assert client.get(f"/api/v1/patients/{patient.id}/").status_code == 401


def test_the_token_read_is_the_stored_one_and_the_account_holds_every_role(
    dr_rivera: User,
) -> None:
    token = Token.objects.create(user=dr_rivera)
    dr_rivera.groups.add(Group.objects.get(name=str(Role.AUDITOR)))

    user, read = StaffTokenAuthentication().authenticate_credentials(token.key)

    assert (user.pk, user.username, user.organisation_id) == (
        dr_rivera.pk,
        dr_rivera.username,
        dr_rivera.organisation_id,
    )
    assert (read.key, read.user_id, read.created) == (token.key, dr_rivera.pk, token.created)
    assert user.is_clinician
    assert user.is_auditor
    assert not user.is_practice_admin
    assert not hasattr(user, "role_names")  # the query's extra columns are not left on it
