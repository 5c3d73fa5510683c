"""Reads an EHR polls: an ETag on each answer and 304 when nothing changed, and lists walked
by cursor, stable while sessions are added."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic.models import Patient, TherapySession, User
from clinic.scopes import Scope
from tests.clinic.integration_support import KeyClient
from tests.factories import TherapySessionFactory

pytestmark = pytest.mark.django_db


def test_an_unchanged_read_answers_304_without_a_body_and_a_changed_one_200(
    therapy_session: TherapySession, dr_rivera: User, ehr_client: KeyClient
) -> None:
    ehr = ehr_client(Scope.SESSIONS_READ, Scope.SESSIONS_WRITE)
    url = f"/api/v1/sessions/{therapy_session.id}/"
    first = ehr.get(url)
    etag = first["ETag"]
    assert first.status_code == 200
    assert etag

    unchanged = ehr.get(url, HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    TherapySession.objects.filter(id=therapy_session.id).update(date=dt.date(2027, 1, 5))
    changed = ehr.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.json()["date"] == "2027-01-05"
    assert changed["ETag"] != etag


def test_the_session_list_is_walked_by_cursor_newest_first_without_repeats(
    patient: Patient, dr_rivera: User, ehr_client: KeyClient
) -> None:
    start = dt.date(2026, 1, 1)
    for day in range(23):
        TherapySessionFactory.create(
            patient=patient, clinician=dr_rivera, date=start + dt.timedelta(days=day)
        )
    ehr = ehr_client(Scope.SESSIONS_READ)
    seen: list[str] = []
    ids: list[str] = []
    page = ehr.get("/api/v1/sessions/?page_size=10").json()
    assert "count" not in page  # no COUNT(*) of everything on each page
    while True:
        seen += [session["date"] for session in page["results"]]
        ids += [session["id"] for session in page["results"]]
        if page["next"] is None:
            break
        # A session booked meanwhile does not shift the pages still to come.
        TherapySessionFactory.create(patient=patient, clinician=dr_rivera, date=start)
        page = ehr.get(page["next"]).json()
    expected = [(start + dt.timedelta(days=day)).isoformat() for day in reversed(range(23))]
    assert seen[:23] == expected
    assert set(seen[23:]) <= {start.isoformat()}  # those booked meanwhile, on the same day
    assert len(ids) == len(set(ids))


def test_a_cursor_the_api_did_not_give_is_a_coded_400(
    patient: Patient, ehr_client: KeyClient
) -> None:
    refused = ehr_client(Scope.SESSIONS_READ).get("/api/v1/sessions/?cursor=not-a-cursor")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_request"
    assert "cursor" in refused.json()["error"]["fields"]
