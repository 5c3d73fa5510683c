"""The error answers in the OpenAPI schema: every status an operation can give, documented.

drf-spectacular documents the success of each view; the errors come from shared machinery
(authentication, access checks, parsers, clinic.body_limit, the exception handler), so they are
added here, once, by what an operation has: every operation can answer 401/403/406/429; one
with a path id can answer 404; one with query parameters or a body can answer 400; one with a
body can answer 413 and 415; the few that can conflict with the current state say 409, as
does every POST (which takes an `Idempotency-Key`, and answers 422 when one is reused). Each
is the one error shape, `Error`, whose `code` an integrator branches on (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from analysis.errors import ErrorCode
from clinic.api.errors import CONFLICT_ERRORS
from clinic.exceptions import DomainError, RecordingTooLarge

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "description": "For `invalid_request`: what is wrong with each field.",
                    "additionalProperties": True,
                },
            },
        }
    },
}


def _rules_of_the_clinic() -> str:
    """The codes of the domain errors answered with 400 (clinic.api.errors), each in `...`."""
    kinds: list[type[DomainError]] = [DomainError]
    codes: set[str] = set()
    while kinds:
        kind = kinds.pop()
        kinds.extend(kind.__subclasses__())
        if not issubclass(kind, (*CONFLICT_ERRORS, RecordingTooLarge)):
            codes.add(str(kind.code))
    return ", ".join(f"`{code}`" for code in sorted(codes))


DESCRIPTIONS = {
    "400": "Invalid or malformed request (`invalid_request`, `malformed_request`, "
    "`idempotency_key_invalid`), or a rule of the clinic: " + _rules_of_the_clinic() + ".",
    "401": "No credentials (`not_authenticated`), or an unknown, expired or revoked API key "
    "(`credential_invalid`).",
    "403": "Not allowed: the API key lacks this operation's scope (`scope_missing`), or a role "
    "without this right, a missing CSRF token, no second factor (`permission_denied`).",
    "404": "Missing, or not yours: the two are indistinguishable on purpose (`not_found`).",
    "406": "The Accept header asks for a format this operation does not give (`not_acceptable`).",
    "409": "Conflicts with the current state (`job_already_active`, `job_not_active`, "
    "`consent_already_revoked`, `upload_offset_mismatch`, `upload_incomplete`), or a request "
    "with the same Idempotency-Key is still running "
    "(`idempotency_key_in_flight`).",
    "413": "The body is larger than this installation accepts (`request_too_large`, "
    "`recording_too_large`).",
    "415": "The body's content type is not one this operation reads (`unsupported_media_type`).",
    "422": "The Idempotency-Key was used before for a different request "
    "(`idempotency_key_reused`).",
    "429": "Too many requests (`throttled`); retry after the Retry-After header's seconds.",
}
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A key of the caller's choosing (a UUID, say). A retry with the same key and "
    "the same request gets the first answer again (header `Idempotent-Replayed: true`) "
    "instead of doing the work twice; answers are kept 24 hours.",
}
# Operations whose request can conflict with the state of what it names.
CONFLICTS = (
    ("post", "/api/v1/recordings/{recording_id}/analyse"),
    ("post", "/api/v1/jobs/{job_id}/cancel"),
    ("post", "/api/v1/consents/{consent_id}/revoke"),
    ("patch", "/api/v1/uploads/{upload_id}"),
)
METHODS = ("get", "post", "put", "patch", "delete")


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    has_query = any(p.get("in") in ("query", "header") for p in parameters)
    has_body = "requestBody" in operation
    statuses = ["401", "403", "406", "429"]
    # a path id that names nothing visible; a page number past the last page
    if "{" in path or any(p.get("name") == "page" for p in parameters):
        statuses.append("404")
    if has_query or has_body:
        statuses.append("400")
    if has_body:
        statuses += ["413", "415"]
    if (method, path) in CONFLICTS or method == "post":
        statuses.append("409")
    if method == "post":
        statuses.append("422")
    return sorted(set(statuses))


def document_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            _one_request_content_type(operation, result["components"]["schemas"])
            if method == "post":  # every write is idempotent on request (clinic.api.idempotency)
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
            responses = operation.setdefault("responses", {})
            # an error is rendered as the operation renders its success (FHIR: fhir+json)
            media_types = {"application/json"} | {
                media_type
                for answer in responses.values()
                for media_type in answer.get("content", {})
                if media_type.endswith("+json")
            }
            content = {media_type: {"schema": reference} for media_type in sorted(media_types)}
            for status in error_statuses(method, path, operation):
                responses.setdefault(
                    status, {"description": DESCRIPTIONS[status], "content": content}
                )
    return result


def _one_request_content_type(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Document one content type per request body: JSON, or multipart where a file is sent.

    The views also read the form encodings (the browser and Django's test client send them),
    but a schema offering three encodings of one body makes client generators emit code that
    sends all three at once.
    """
    content = operation.get("requestBody", {}).get("content", {})
    if len(content) < 2:
        return
    multipart = content.get("multipart/form-data", {}).get("schema", {})
    reference = multipart.get("$ref", "")
    if reference:
        multipart = schemas.get(reference.rsplit("/", 1)[-1], {})
    takes_file = any(
        field.get("format") == "binary" for field in multipart.get("properties", {}).values()
    )
    keep = (
        "multipart/form-data"
        if takes_file or "application/json" not in content
        else ("application/json")
    )
    operation["requestBody"]["content"] = {keep: content[keep]}


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    """Integration keys in the schema: a bearer scheme, with the scope each operation needs
    as the security requirement's scope list, so a generated client's docs say it."""

    target_class = "clinic.api.auth.IntegrationKeyAuthentication"
    name = "integrationKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mlk_<prefix>_<secret>",
            "description": "An integration's API key (docs/api.md, Credentials).",
        }

    def get_security_requirement(  # type: ignore[override]  # None leaves it out, as the base does
        self, auto_schema: Any
    ) -> dict[str, list[Any]] | None:
        from clinic.api.auth import required_scope

        scope = required_scope(auto_schema.view, auto_schema.method.upper())
        if scope is None:
            return None  # closed to integrations
        return {self.name: [scope.value]}
