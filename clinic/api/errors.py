"""Every API error has one shape: `{"error": {"code", "message", "fields"}}`.

Codes are Moodline's one vocabulary (`analysis.errors.ErrorCode`), stable strings an integrator
can branch on; messages are constants tests import. Domain errors
(clinic.exceptions.DomainError) carry their own code and message.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from analysis.errors import ErrorCode
from clinic.access import NOT_FOUND_MESSAGE
from clinic.exceptions import (
    DomainError,
    JobAlreadyActive,
    RecordingTooLarge,
    UploadIncomplete,
    UploadOffsetMismatch,
)

INVALID_REQUEST = ErrorCode.INVALID_REQUEST
INVALID_REQUEST_MESSAGE = "Some fields are missing or invalid."
MALFORMED_REQUEST = ErrorCode.MALFORMED_REQUEST
MALFORMED_REQUEST_MESSAGE = "The request body could not be read."
NOT_AUTHENTICATED = ErrorCode.NOT_AUTHENTICATED
NOT_AUTHENTICATED_MESSAGE = "Sign in, or send an API key, to use the API."
CREDENTIAL_INVALID = ErrorCode.CREDENTIAL_INVALID
SCOPE_MISSING = ErrorCode.SCOPE_MISSING
PERMISSION_DENIED = ErrorCode.PERMISSION_DENIED
PERMISSION_DENIED_MESSAGE = "You may not do this."
NOT_FOUND = ErrorCode.NOT_FOUND
METHOD_NOT_ALLOWED = ErrorCode.METHOD_NOT_ALLOWED
UNSUPPORTED_MEDIA_TYPE = ErrorCode.UNSUPPORTED_MEDIA_TYPE
NOT_ACCEPTABLE = ErrorCode.NOT_ACCEPTABLE
THROTTLED = ErrorCode.THROTTLED
NOT_MEDIA = ErrorCode.NOT_MEDIA
NOT_MEDIA_MESSAGE = "The uploaded file is not an audio or video recording."
NO_TIMELINE = ErrorCode.NO_TIMELINE
NO_TIMELINE_MESSAGE = "This session has no analysed recording yet."
RANGE_INVALID_MESSAGE = "start_s must not be after end_s."
INTERNAL_ERROR_MESSAGE = (
    "Something went wrong on our side. Please try again; if it keeps happening, tell your "
    "administrator."
)

# DomainErrors that are a conflict with the current state rather than a bad request.
CONFLICT_ERRORS: tuple[type[DomainError], ...] = (
    JobAlreadyActive,
    UploadOffsetMismatch,
    UploadIncomplete,
)


class ApiError(exceptions.APIException):
    """A coded error raised by a view: `ApiError(NOT_MEDIA, NOT_MEDIA_MESSAGE, fields=...)`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.fields = fields or {}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    # A plain str: every renderer (YAML's included) writes it, not only JSON's.
    return {"error": {"code": str(code), "message": message, "fields": fields or {}}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map every known error to the coded shape."""
    if isinstance(exc, DomainError):
        code: int
        if isinstance(exc, CONFLICT_ERRORS):
            code = status.HTTP_409_CONFLICT
        elif isinstance(exc, RecordingTooLarge):  # as clinic.body_limit answers it
            code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        else:
            code = status.HTTP_400_BAD_REQUEST
        return Response(error_body(exc.code, exc.message), status=code)
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, exc.message, exc.fields), exc.status_code)
    if isinstance(exc, Http404 | exceptions.NotFound):
        return Response(error_body(NOT_FOUND, NOT_FOUND_MESSAGE), status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over
    response.data = _coded(exc, response.data)
    return response


def _detail_code(exc: exceptions.APIException) -> str | None:
    code = getattr(exc.detail, "code", None)
    return str(code) if code is not None else None


def _coded(exc: Exception, data: Any) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        return error_body(INVALID_REQUEST, INVALID_REQUEST_MESSAGE, fields)
    if isinstance(exc, exceptions.ParseError):
        return error_body(MALFORMED_REQUEST, MALFORMED_REQUEST_MESSAGE)
    if isinstance(exc, exceptions.AuthenticationFailed) and _detail_code(exc) == CREDENTIAL_INVALID:
        return error_body(CREDENTIAL_INVALID, str(exc.detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return error_body(NOT_AUTHENTICATED, NOT_AUTHENTICATED_MESSAGE)
    if isinstance(exc, exceptions.PermissionDenied):
        # CSRF failures arrive here too; their detail says what is wrong.
        code = SCOPE_MISSING if _detail_code(exc) == SCOPE_MISSING else PERMISSION_DENIED
        return error_body(code, str(getattr(exc, "detail", PERMISSION_DENIED_MESSAGE)))
    codes = {
        exceptions.MethodNotAllowed: METHOD_NOT_ALLOWED,
        exceptions.UnsupportedMediaType: UNSUPPORTED_MEDIA_TYPE,
        exceptions.NotAcceptable: NOT_ACCEPTABLE,
        exceptions.Throttled: THROTTLED,
    }
    code = next((c for kind, c in codes.items() if isinstance(exc, kind)), ErrorCode.ERROR)
    return error_body(code, str(getattr(exc, "detail", exc)))
