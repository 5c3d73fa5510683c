"""Every review read is a fixed, small number of queries, however many sessions there are.

Each read is made once with a few analysed sessions and once with many more; the number of
queries must be the same both times (no query per row) and within the read's budget. The
budget counts everything the request does: the token with the caller's roles, the access check,
the data, and the audit row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.models import CareTeamMembership, Patient, TherapySession, User
from clinic.selectors.patients import sessions_visible_to
from tests.clinic.timeline_factory import analysed
from tests.factories import PatientFactory, RecordingFactory, TherapySessionFactory

pytestmark = pytest.mark.django_db

BUDGETS = {
    "session list": 4,
    "patient page": 3,
    "patient list": 4,
    "timeline overview": 4,
    "timeline zoom": 4,
    "FHIR export": 8,
}


def _analysed_sessions(clinician: User, patient: Patient, clip: Path, count: int) -> None:
    for _ in range(count):
        session = TherapySessionFactory.create(patient=patient, clinician=clinician)
        analysed(RecordingFactory.create(session=session, clip=clip, uploaded_by=clinician))


def _queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url)
    assert answer.status_code == 200, answer.content[:300]
    # the request's transaction is a savepoint inside the test's own: control, not a query
    return sum(1 for query in queries if "SAVEPOINT" not in query["sql"])


def test_each_read_costs_the_same_few_queries_at_any_size(
    dr_rivera: User, patient: Patient, session_clip: Path, settings: Any
) -> None:
    # Without the process's cache of decoded timelines: every read as its first
    settings.MOODLINE_TIMELINE_CACHE_MB = 0
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=dr_rivera).key}")
    _analysed_sessions(dr_rivera, patient, session_clip, 2)
    first = TherapySession.objects.filter(patient=patient).first()
    assert first is not None
    reads = {
        "session list": "/api/v1/sessions/",
        "patient page": f"/api/v1/patients/{patient.id}/",
        "patient list": "/api/v1/patients/",
        "timeline overview": f"/api/v1/sessions/{first.id}/timeline/",
        "timeline zoom": f"/api/v1/sessions/{first.id}/timeline/?start_s=0&end_s=1",
        "FHIR export": f"/api/v1/sessions/{first.id}/fhir",
    }
    few = {name: _queries(client, url) for name, url in reads.items()}

    others = PatientFactory.create_batch(4, organisation=patient.organisation)
    for other in others:
        CareTeamMembership.objects.create(patient=other, clinician=dr_rivera)
        _analysed_sessions(dr_rivera, other, session_clip, 6)
    assert sessions_visible_to(dr_rivera).count() == 26
    many = {name: _queries(client, url) for name, url in reads.items()}

    assert many == few
    for name, count in many.items():
        assert count <= BUDGETS[name], (name, count)


def test_the_visible_sessions_need_no_distinct(dr_rivera: User, patient: Patient) -> None:
    # The care-team check is a semi-join: each session once, without DISTINCT over its columns.
    TherapySessionFactory.create(patient=patient, clinician=dr_rivera)
    sql = str(sessions_visible_to(dr_rivera).query).upper()
    assert "DISTINCT" not in sql
    assert " IN (SELECT" in sql
    assert sessions_visible_to(dr_rivera).count() == 1
