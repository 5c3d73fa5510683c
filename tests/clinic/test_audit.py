"""The audit trail says who did what to which patient's data, from where."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from clinic.audit import audit_record
from clinic.models import AuditEvent, Recording, User

pytestmark = pytest.mark.django_db


def test_viewing_a_recording_is_recorded_with_the_patient_address_and_browser(
    dr_rivera: User, recording: Recording
) -> None:
    request = RequestFactory().get(
        "/recordings/", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Firefox/140"
    )
    event = audit_record(actor=dr_rivera, action="recording.view", obj=recording, request=request)

    stored = AuditEvent.objects.get(id=event.id)
    assert stored.actor == dr_rivera
    assert stored.actor_label == "dr_rivera"
    assert (stored.object_type, stored.object_id) == ("recording", str(recording.id))
    assert stored.patient_id == recording.session.patient_id
    assert (stored.ip, stored.user_agent) == ("203.0.113.7", "Firefox/140")
    assert stored.outcome == AuditEvent.Outcome.SUCCESS


def test_a_refused_access_is_recorded_as_denied(dr_okafor: User, recording: Recording) -> None:
    audit_record(
        actor=dr_okafor, action="recording.view", obj=recording, outcome=AuditEvent.Outcome.DENIED
    )
    assert AuditEvent.objects.filter(actor=dr_okafor, outcome="denied").count() == 1
