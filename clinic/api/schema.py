"""The error answers in the OpenAPI schema: every status an operation can give, documented.

drf-spectacular documents the success of each view; the errors come from shared machinery
(authentication, access checks, parsers, clinic.body_limit, the exception handler), so they are
added here, once, by what an operation has: every operation can answer 401/403/406/429; one
with a path id can answer 404; one with query parameters or a body can answer 400; one with a
body can answer 413 and 415; the few that can conflict with the current state say 409. Each
is the one error shape, `Error`, whose `code` an integrator branches on (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from analysis.errors import ErrorCode

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
DESCRIPTIONS = {
    "400": "Invalid or malformed request, or a rule of the clinic (see `code`).",
    "401": "No or bad credentials.",
    "403": "Not allowed (a role without this right, a missing CSRF token, no second factor).",
    "404": "Missing, or not yours: the two are indistinguishable on purpose.",
    "406": "The Accept header asks for a format this operation does not give.",
    "409": "Conflicts with the current state (see `code`).",
    "413": "The body is larger than this installation accepts.",
    "415": "The body's content type is not one this operation reads.",
    "429": "Too many requests; retry after the Retry-After header's seconds.",
}
# Operations whose request can conflict with the state of what it names.
CONFLICTS = (
    ("post", "/api/v1/recordings/{recording_id}/analyse"),
    ("post", "/api/v1/jobs/{job_id}/cancel"),
    ("post", "/api/v1/consents/{consent_id}/revoke"),
)
METHODS = ("get", "post", "put", "patch", "delete")


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    has_query = any(p.get("in") == "query" for p in parameters)
    has_body = "requestBody" in operation
    statuses = ["401", "403", "406", "429"]
    # a path id that names nothing visible; a page number past the last page
    if "{" in path or any(p.get("name") == "page" for p in parameters):
        statuses.append("404")
    if has_query or has_body:
        statuses.append("400")
    if has_body:
        statuses += ["413", "415"]
    if (method, path) in CONFLICTS:
        statuses.append("409")
    return sorted(statuses)


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
