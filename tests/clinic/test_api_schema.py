"""The OpenAPI schema a client generator reads: valid, warning-free, every error documented
with the codes it can carry, and each operation's scope stated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from analysis.errors import ErrorCode

CODE = re.compile(r"`([a-z_]+)`")


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # --fail-on-warn: an unresolved type or authenticator stops the build, as it would a
    # generator's output.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    loaded: dict[str, Any] = yaml.safe_load(Path(path).read_text())
    return loaded


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/api/v1/")
    ]


def test_every_error_answer_is_documented_with_the_codes_it_can_carry(
    schema: dict[str, Any],
) -> None:
    known = {code.value for code in ErrorCode}
    for method, path, operation in _operations(schema):
        errors = {s: r for s, r in operation["responses"].items() if s.startswith("4")}
        assert {"401", "403", "429"} <= errors.keys(), (method, path)
        for status, response in errors.items():
            codes = set(CODE.findall(response["description"]))
            assert codes, (method, path, status)
            assert codes <= known, (method, path, status, codes - known)
            for content in response["content"].values():
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}


def test_every_write_takes_an_idempotency_key_and_one_body_encoding(
    schema: dict[str, Any],
) -> None:
    posts = [(path, op) for method, path, op in _operations(schema) if method == "post"]
    assert len(posts) >= 9
    for path, operation in posts:
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
        assert {"409", "422"} <= operation["responses"].keys(), path
        assert len(operation.get("requestBody", {}).get("content", {None: None})) == 1, path


def test_each_operation_states_the_scope_an_integration_key_needs(
    schema: dict[str, Any],
) -> None:
    scheme = schema["components"]["securitySchemes"]["integrationKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    by_operation = {
        (method, path): [
            requirement["integrationKey"]
            for requirement in operation.get("security", [])
            if "integrationKey" in requirement
        ]
        for method, path, operation in _operations(schema)
    }
    assert by_operation[("get", "/api/v1/sessions/{session_id}/timeline/")] == [["timelines:read"]]
    assert by_operation[("post", "/api/v1/patients/")] == [["patients:write"]]
    # The clinicians' notes: no scope opens them.
    assert by_operation[("get", "/api/v1/sessions/{session_id}/annotations/")] == []
