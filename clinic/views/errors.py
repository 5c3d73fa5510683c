"""What an unmatched address or a crash answers: the API's JSON error under /api/, Django's
page everywhere else. An integrator that sends a malformed id (not a UUID, so no route
matches) gets the same `not_found` body as for an id that exists nowhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from analysis.errors import ErrorCode
from clinic.access import NOT_FOUND_MESSAGE
from clinic.api.errors import INTERNAL_ERROR_MESSAGE, NOT_FOUND, error_body

API_PREFIX = "/api/"


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body(NOT_FOUND, NOT_FOUND_MESSAGE), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        body = error_body(ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE)
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
