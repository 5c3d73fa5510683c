"""The few views the clinic app serves itself; the API lives in clinic/api/."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.health import OK, health_report


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, Redis and a worker are all up; 503 naming what is down."""
    report = health_report()
    healthy = all(value == OK for value in report.values())
    return JsonResponse(report, status=200 if healthy else 503)
