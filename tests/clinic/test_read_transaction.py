"""A read and its audit row are written in one transaction (clinic/read_transaction.py).

These run without the test's own transaction, as the server does, and watch every statement a
request sends: each one, the audit INSERT included, runs inside the request's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from clinic.models import AuditEvent, Patient, TherapySession, User

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@contextmanager
def statements() -> Iterator[list[tuple[str, bool]]]:
    """Each SQL statement sent, and whether it ran inside a transaction block."""
    seen: list[tuple[str, bool]] = []

    def watch(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        seen.append((sql, connection.in_atomic_block))
        return execute(sql, *args)

    with connection.execute_wrapper(watch):
        yield seen


def test_a_read_and_its_audit_row_are_one_transaction(
    client: Client, dr_rivera: User, therapy_session: TherapySession
) -> None:
    client.force_login(dr_rivera)
    with statements() as seen:
        answer = client.get(f"/api/v1/sessions/{therapy_session.id}/")
    assert answer.status_code == 200
    audit = [inside for sql, inside in seen if sql.startswith('INSERT INTO "clinic_auditevent"')]
    assert audit == [True]
    assert all(inside for _, inside in seen), [sql[:80] for sql, inside in seen if not inside]
    assert AuditEvent.objects.filter(action="session.view", actor=dr_rivera).count() == 1


def test_a_refused_read_keeps_its_denied_row(
    client: Client, dr_okafor: User, patient: Patient, therapy_session: TherapySession
) -> None:
    # Dr Okafor is not on this patient's care team: the 404 is a response, and its audit row
    # (what an auditor looks for) is committed with the request's transaction.
    client.force_login(dr_okafor)
    answer = client.get(f"/api/v1/sessions/{therapy_session.id}/")
    assert answer.status_code == 404
    denied = AuditEvent.objects.filter(actor=dr_okafor, outcome=AuditEvent.Outcome.DENIED)
    assert denied.count() == 1
