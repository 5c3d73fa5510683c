"""The audit trail: every read and export of PHI leaves a row, no row can be changed, and the
auditor can search it and take it away as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from clinic.audit import audit_record
from clinic.models import AuditEvent, Patient, Recording, User
from clinic.models.audit import AppendOnlyError
from clinic.roles import Role
from clinic.selectors.audit import CSV_COLUMNS
from tests.clinic.analysed import analyse
from tests.factories import OrganisationFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

CLINIC_ADDRESS = "198.51.100.23"


def test_audit_rows_cannot_be_updated_or_deleted_even_with_raw_sql(recording: Recording) -> None:
    event = AuditEvent.objects.filter(action="recording.create").get()
    for statement in (
        "UPDATE clinic_auditevent SET action = 'nothing.happened' WHERE id = %s",
        "DELETE FROM clinic_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event.id])
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(id=event.id).update(outcome="denied")
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get(id=event.id).action == "recording.create"


def test_reading_and_exporting_a_patients_data_each_leave_a_row(
    client: Client, dr_rivera: User, recording: Recording, patient: Patient, tmp_path: Path
) -> None:
    analyse(recording, modalities=["video", "audio", "transcript"], workdir=tmp_path)
    client.force_login(dr_rivera)
    session_id = recording.session_id
    for path in (
        f"/sessions/{session_id}/",
        f"/recordings/{recording.id}/media",
        f"/api/v1/sessions/{session_id}/timeline/",
        f"/api/v1/sessions/{session_id}/fhir",
    ):
        response = client.get(path, REMOTE_ADDR=CLINIC_ADDRESS)
        assert response.status_code == 200, path

    reads = AuditEvent.objects.filter(actor=dr_rivera, ip=CLINIC_ADDRESS)
    assert set(reads.values_list("patient_id", flat=True)) == {patient.id}
    actions = set(reads.values_list("action", flat=True))
    assert {"session.review", "recording.view", "timeline.view", "session.export_fhir"} <= actions


@pytest.fixture
def trail(dr_rivera: User, dr_okafor: User, patient: Patient, recording: Recording) -> None:
    """A few days of events: reads, a refusal, and a browser with a hostile user agent."""
    audit_record(
        actor=dr_okafor,
        action="recording.view",
        obj=recording,
        outcome=AuditEvent.Outcome.DENIED,
    )
    audit_record(actor=dr_rivera, action="timeline.view", obj=recording, details={"from_s": 0})
    hostile = Client(HTTP_USER_AGENT='=HYPERLINK("http://evil.example")')
    hostile.force_login(dr_rivera)
    hostile.get(f"/api/v1/sessions/{recording.session_id}/")


def _csv(client: Client, query: str) -> list[dict[str, str]]:
    response = client.get(f"/audit/export.csv?{query}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]


def test_the_auditor_filters_the_trail_and_exports_it_as_csv(
    client: Client, audrey_auditor: User, patient: Patient, trail: None
) -> None:
    client.force_login(audrey_auditor)

    page = client.get("/audit/", {"outcome": "denied"})
    assert page.status_code == 200
    assert b"dr_okafor" in page.content
    assert b"timeline.view" not in page.content

    about_patient = _csv(client, f"patient_id={patient.id}&action=recording.")
    assert {row["action"] for row in about_patient} == {"recording.view", "recording.create"}
    assert {row["patient_id"] for row in about_patient} == {str(patient.id)}

    session_reads = _csv(client, "action=session.view")
    assert len(session_reads) == 1
    # A spreadsheet must not run what a browser put in its user agent.
    assert session_reads[0]["user_agent"].startswith("'=HYPERLINK")

    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert _csv(client, f"since={tomorrow}") == []
    exports = AuditEvent.objects.filter(actor=audrey_auditor, action="audit.export")
    assert exports.count() == 3
    assert AuditEvent.objects.filter(actor=audrey_auditor, action="audit.view").count() == 1


def test_only_auditors_read_the_trail(
    client: Client, dr_rivera: User, alex_admin: User, trail: None
) -> None:
    for user in (dr_rivera, alex_admin):
        client.force_login(user)
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403


def test_an_auditor_reads_only_their_own_practices_trail(
    client: Client, audrey_auditor: User, trail: None
) -> None:
    southside = OrganisationFactory.create(name="Southside practice")
    outsider = UserFactory.create(username="dr_south", organisation=southside, role=Role.CLINICIAN)
    other_patient = PatientFactory.create(organisation=southside)
    audit_record(actor=outsider, action="patient.view", obj=other_patient)
    audit_record(actor=None, action="retention.purge", patient=other_patient.id)
    client.force_login(audrey_auditor)

    rows = _csv(client, "")

    assert rows, "the auditor's own practice has a trail"
    assert "dr_south" not in {row["actor"] for row in rows}
    assert str(other_patient.id) not in {row["patient_id"] for row in rows}
    assert "retention.purge" not in {row["action"] for row in rows}
