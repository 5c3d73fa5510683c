"""Reading the audit trail: the filters an auditor uses, and the rows of a CSV export."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from clinic.models import AuditEvent, Patient

CSV_COLUMNS = (
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip",
    "user_agent",
    "outcome",
    "details",
)


# Leading characters that make Excel or LibreOffice evaluate a cell.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # username as recorded at the time, exact
    action: str = ""  # a dotted verb, or its prefix ("recording." for every recording event)
    patient_id: uuid.UUID | None = None  # every event about this patient
    outcome: str = ""  # success, denied or failure
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


def audit_events_of_organisation(organisation_id: uuid.UUID | None) -> QuerySet[AuditEvent]:
    """The trail of one practice: events stamped with it, and events written before events
    were stamped whose actor or patient belongs to it. Nothing for a user of no practice."""
    if organisation_id is None:
        return AuditEvent.objects.none()
    own_patients = Patient.objects.filter(organisation_id=organisation_id).values("id")
    unstamped = Q(organisation_id__isnull=True) & (
        Q(actor__organisation_id=organisation_id) | Q(patient_id__in=own_patients)
    )
    return AuditEvent.objects.filter(Q(organisation_id=organisation_id) | unstamped)


def audit_events_filtered(
    audit_filter: AuditFilter, *, organisation_id: uuid.UUID | None
) -> QuerySet[AuditEvent]:
    """The practice's events matching every filter given, newest first."""
    events = audit_events_of_organisation(organisation_id)
    if audit_filter.actor:
        events = events.filter(actor_label=audit_filter.actor)
    if audit_filter.action:
        events = events.filter(action__startswith=audit_filter.action)
    if audit_filter.patient_id is not None:
        events = events.filter(patient_id=audit_filter.patient_id)
    if audit_filter.outcome:
        events = events.filter(outcome=audit_filter.outcome)
    if audit_filter.since is not None:
        events = events.filter(at__gte=audit_filter.since)
    if audit_filter.until is not None:
        events = events.filter(at__lt=audit_filter.until)
    return events.order_by("-at")


def audit_csv_rows(events: QuerySet[AuditEvent]) -> Iterator[list[str]]:
    """The header, then one row per event; streamed, so a year of events fits in no memory."""
    yield list(CSV_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        yield [
            csv_safe(cell)
            for cell in (
                event.at.isoformat(),
                event.actor_label,
                event.action,
                event.object_type,
                event.object_id,
                str(event.patient_id or ""),
                event.ip or "",
                event.user_agent,
                event.outcome,
                _json(event.details),
            )
        ]


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def csv_safe(cell: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula (a user agent can be anything)."""
    return f"'{cell}" if cell[:1] in FORMULA_PREFIXES else cell
