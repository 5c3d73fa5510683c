"""Requests generated from the live OpenAPI schema get only answers the schema documents.

Schemathesis reads `/api/schema/` from the running application, once as a clinician with a
staff token and once as an EHR integration whose key holds every scope, and, for every
operation, generates requests that fit the schema and requests that break
it: first with generated ids (which name nothing: the 404s), then, where the path names them,
with the ids of a real analysed session, its recording, job, consents and a note (the
successes, and the rules each write can break). Each answer must be no server error, a
documented status, a documented content type and a body that matches its documented schema.
Hypothesis is derandomised, so a failure reproduces.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.result import Err

from clinic.models import Consent, Integration, Recording, User
from clinic.scopes import Scope
from clinic.services.annotations import annotation_create
from clinic.services.integrations import integration_key_issue
from clinic.services.webhooks import webhook_endpoint_register
from tests.clinic.timeline_factory import analysed

pytestmark = pytest.mark.slow

MIN_CASES = 1000
EXAMPLES_PER_OPERATION_AND_MODE = 30
TIME_BUDGET_S = 600.0
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@pytest.fixture
def in_process_server() -> Iterator[Any]:
    """The WSGI application, called in this test's thread and database transaction: Django's
    own test client stops it closing the connection at each request too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("caller", ["clinician", "integration"])
def test_generated_requests_get_only_documented_answers(
    caller: str,
    in_process_server: Any,
    dr_rivera: User,
    consents: dict[str, Consent],
    recording: Recording,
    northside_ehr: Integration,
    settings: Any,
) -> None:
    settings.AXES_ENABLED = False
    if caller == "clinician":
        auth = {"Authorization": f"Token {Token.objects.create(user=dr_rivera).key}"}
    else:
        # Its rate limit would answer most generated requests with 429 and test nothing.
        Integration.objects.filter(id=northside_ehr.id).update(requests_per_minute=1_000_000)
        key = integration_key_issue(integration=northside_ehr, scopes=list(Scope)).secret
        auth = {"Authorization": f"Bearer {key}"}
    endpoint = webhook_endpoint_register(
        integration=northside_ehr, url="https://ehr.example.org/h", events=["consent.revoked"]
    ).endpoint
    timeline = analysed(recording)
    note = annotation_create(
        session=recording.session, author=dr_rivera, t_s=1.0, text="Pauses before answering."
    )
    real_ids = {
        "patient_id": str(recording.session.patient_id),
        "session_id": str(recording.session_id),
        "recording_id": str(recording.id),
        "job_id": str(timeline.job_id),
        "annotation_id": str(note.id),
        "consent_id": str(consents["voice"].id),
        "endpoint_id": str(endpoint.id),
    }
    schema = schemathesis.openapi.from_wsgi("/api/schema/", in_process_server, headers=auth)
    load_all_checks()
    checks = [CHECKS.get_one(name) for name in CHECK_NAMES]

    cases: dict[str, int] = {}
    failures: list[str] = []
    started = time.monotonic()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the schema has an operation Schemathesis cannot read: {result.err()}")
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(operation, mode, auth, checks, cases, failures)
        names = {p.name for p in operation.path_parameters}
        if names and names <= real_ids.keys():
            ids = {name: real_ids[name] for name in names}
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _exercise(operation, mode, auth, checks, cases, failures, path_parameters=ids)
        assert time.monotonic() - started < TIME_BUDGET_S, "the generated cases ran too long"

    assert sum(cases.values()) >= MIN_CASES, cases
    assert len(cases) >= 18, sorted(cases)  # every operation of the API
    assert not failures, "\n\n".join(failures[:40])


def _exercise(
    operation: Any,
    mode: GenerationMode,
    auth: dict[str, str],
    checks: list[Any],
    cases: dict[str, int],
    failures: list[str],
    path_parameters: dict[str, str] | None = None,
) -> None:
    """Send EXAMPLES_PER_OPERATION_AND_MODE generated requests; collect every failed check."""
    label = f"{operation.method.upper()} {operation.path}"
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        cases[label] = cases.get(label, 0) + 1
        response = case.call(headers=auth)
        try:
            case.validate_response(response, checks=checks, headers=auth)
        except (AssertionError, BaseExceptionGroup) as failure:  # every one is collected
            ids = "real ids" if path_parameters else "generated ids"
            failures.append(f"{label} [{mode.value}, {ids}]: {failure}"[:1500])

    try:
        call()
    except Unsatisfiable:
        # nothing left to break with the ids fixed: no query, no body (GET /jobs/{job_id}/)
        assert path_parameters, label
        assert mode is GenerationMode.NEGATIVE, label
