"""A member of staff's token: the account and its roles are read in one query, and a token
that no longer opens the API says so."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.models import Patient, User
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
