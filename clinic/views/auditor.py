"""The auditor's view of the audit trail: filter it, page through it, export it as CSV.

Only auditors get in (clinic.access.access_audit_log); reading and exporting the trail are
themselves audited, since the trail names patients by id.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.access import access_audit_log
from clinic.audit import audit_record
from clinic.models import AuditEvent
from clinic.selectors.audit import AuditFilter, audit_csv_rows, audit_events_filtered

EVENTS_PER_PAGE = 100


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="User")
    action = forms.CharField(required=False, max_length=64, label="Action (or prefix)")
    patient_id = forms.UUIDField(required=False, label="Patient id")
    outcome = forms.ChoiceField(required=False, choices=[("", "Any"), *AuditEvent.Outcome.choices])
    since = forms.DateField(required=False, label="From (inclusive)")
    until = forms.DateField(required=False, label="To (inclusive)")

    def audit_filter(self) -> AuditFilter:
        data: dict[str, Any] = self.cleaned_data if self.is_valid() else {}
        return AuditFilter(
            actor=data.get("actor", ""),
            action=data.get("action", ""),
            patient_id=data.get("patient_id"),
            outcome=data.get("outcome", ""),
            since=_start_of(data.get("since")),
            until=_start_of(data["until"] + dt.timedelta(days=1)) if data.get("until") else None,
        )


def _start_of(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _audited_events(
    request: HttpRequest, action: str
) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    """Let in auditors only, parse the filters, and record that this auditor read the trail."""
    auditor = access_audit_log(request.user)
    form = AuditFilterForm(request.GET or None)
    filters = {key: str(value) for key, value in form.data.items() if key in form.fields and value}
    audit_record(actor=auditor, action=action, request=request, details=filters)
    return form, audit_events_filtered(form.audit_filter(), organisation_id=auditor.organisation_id)


@never_cache
@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form, events = _audited_events(request, "audit.view")
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "clinic/audit_log.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


class _Echo:
    """A file-like object that hands back what csv.writer writes, for streaming."""

    def write(self, value: str) -> str:
        return value


@never_cache
@login_required
@require_GET
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    _, events = _audited_events(request, "audit.export")
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        for row in audit_csv_rows(events):
            yield writer.writerow(row)

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
