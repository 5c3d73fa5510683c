"""An EHR vendor's engineer generates a Python client from Moodline's OpenAPI schema
(openapi-python-client) and runs the whole integration with it against a live server: upsert
the patient, book the session, record consent, upload the recording, be told by a signed
webhook that the analysis is done, then read the timeline and the FHIR bundle. The recording
goes up resumably, in pieces, as a file of several GB would.

Everything is real: the production server (uvicorn), a Celery worker process that analyses
the recording and delivers the webhook, and an HTTP server on 127.0.0.1 as the EHR's endpoint.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
import redis
from django.conf import settings
from django.db import connection

from clinic.heartbeat import HEARTBEAT_KEY_PREFIX
from clinic.models import Integration, User
from clinic.scopes import Scope
from clinic.services.integrations import integration_create, integration_key_issue
from clinic.webhook_signature import signature_is_valid
from tests.webhook_receiver import webhook_receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_START_TIMEOUT_S = 120
ANALYSIS_TIMEOUT_S = 300
PACKAGE = "moodline_client"
GENERATOR_CONFIG = f"""\
project_name_override: {PACKAGE}
package_name_override: {PACKAGE}
post_hooks: []
"""
# What an EHR integration is given: everything the flow needs, and nothing else.
FLOW_SCOPES = [
    Scope.PATIENTS_WRITE,
    Scope.SESSIONS_WRITE,
    Scope.SESSIONS_READ,
    Scope.CONSENT_WRITE,
    Scope.RECORDINGS_UPLOAD,
    Scope.TIMELINES_READ,
    Scope.FHIR_READ,
    Scope.WEBHOOKS_MANAGE,
]


def _generated_client(server_url: str, secret: str, folder: Path) -> ModuleType:
    """Download the schema as the integrator would, generate the client, import it."""
    request = urllib.request.Request(  # noqa: S310  (a loopback URL of this test)
        f"{server_url}/api/schema/?format=json", headers={"Authorization": f"Bearer {secret}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        (folder / "schema.json").write_bytes(answer.read())
    (folder / "config.yaml").write_text(GENERATOR_CONFIG)
    generated = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate",
            "--path", str(folder / "schema.json"),
            "--output-path", str(folder / PACKAGE),
            "--meta", "none",
            "--config", str(folder / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    sys.path.insert(0, str(folder))
    return importlib.import_module(PACKAGE)


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.fixture
def worker(server_url: str, tmp_path: Path) -> Iterator[str]:
    """A Celery worker on both queues (analysis, and the housekeeping that sends webhooks),
    on the test database and recordings the server uses."""
    client = redis.Redis.from_url(settings.REDIS["client"])
    client.delete("analysis", "housekeeping")
    database = connection.settings_dict
    node = f"celery@ehr-flow-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ANALYSIS_SCRATCH_DIR": str(tmp_path / "scratch"),
        "MOODLINE_ENV": "test",
        "WEBHOOK_RETRY_BASE_S": "0.5",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool", "solo",
             "--queues", "analysis,housekeeping", "--hostname", node, "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not client.exists(f"{HEARTBEAT_KEY_PREFIX}{node}"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("The worker did not start: " + log_path.read_text())
            time.sleep(0.2)
        yield node
    finally:
        process.terminate()
        process.wait(timeout=30)
        client.delete("analysis", "housekeeping")


def test_an_ehr_runs_the_whole_integration_with_a_client_generated_from_the_schema(
    server_url: str, worker: str, northside: Any, dr_rivera: User, session_clip: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    ehr: Integration = integration_create(organisation=northside, name="Northside EHR")
    secret = integration_key_issue(integration=ehr, scopes=FLOW_SCOPES).secret
    package = _generated_client(server_url, secret, tmp_path)
    client = package.AuthenticatedClient(base_url=server_url, token=secret, timeout=60.0)
    models = _module("models")
    api = "api.v1."

    # The EHR's endpoint is briefly down: the worker's task retries it, 0.5 s then 1 s later.
    with webhook_receiver(500, 503) as receiver:
        # The EHR registers where it wants to be told, and keeps the secret to check it by.
        endpoint = _module(api + "v1_webhooks_create").sync(
            client=client,
            body=models.WebhookEndpointRequest.from_dict(
                {"url": receiver.url, "events": ["analysis.succeeded", "analysis.failed"]}
            ),
        )
        assert isinstance(endpoint, models.RegisteredEndpoint), endpoint

        # The patient, by the EHR's own identifier; sent twice, as a retry would be.
        upsert = models.PatientUpsertRequest(
            identifier=models.PatientIdentifierRequest(system="urn:ehr:mrn", value="MRN-7781"),
            display_name="Jordan",
            care_team=[dr_rivera.public_id],
        )
        patient = _module(api + "v1_patients_create").sync(
            client=client, body=upsert, idempotency_key="patient-7781"
        )
        again = _module(api + "v1_patients_create").sync_detailed(
            client=client, body=upsert, idempotency_key="patient-7781"
        )
        assert isinstance(patient, models.PatientUpserted), patient
        assert patient.created is True
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.parsed.id == patient.id

        # Consent, as the patient signed it.
        for modality in ("analysis", "face", "voice", "text"):
            consent = _module(api + "v1_patients_consents_create").sync(
                patient_id=patient.id,
                client=client,
                body=models.ConsentGiveRequest.from_dict(
                    {"modality": modality, "form_version": "2026-03", "given_by": "patient"}
                ),
            )
            assert isinstance(consent, models.Consent), consent
            assert consent.active is True

        session = _module(api + "v1_sessions_create").sync(
            client=client,
            body=models.SessionBookRequest(
                patient=patient.id,
                clinician=dr_rivera.public_id,
                date=dt.date(2026, 12, 1),
                external_encounter_id="ENC-5521",
            ),
            idempotency_key="encounter-5521",
        )
        assert isinstance(session, models.Session), session
        assert session.external_encounter_id == "ENC-5521"

        # The recording, resumably, in two pieces, as a multi-GB file would go.
        clip = session_clip.read_bytes()
        upload = _module(api + "v1_sessions_uploads_create").sync(
            session_id=session.id,
            client=client,
            body=models.UploadStartRequest(filename="visit.mp4", size_bytes=len(clip)),
            idempotency_key="upload-5521",
        )
        assert isinstance(upload, models.UploadState), upload
        file_type = _module("types").File
        half = len(clip) // 2
        for offset, piece in ((0, clip[:half]), (half, clip[half:])):
            state = _module(api + "v1_uploads_partial_update").sync(
                upload_id=upload.id,
                client=client,
                body=file_type(payload=io.BytesIO(piece)),
                upload_offset=offset,
            )
            assert isinstance(state, models.UploadState), state
        assert state.received_bytes == len(clip)
        recording = _module(api + "v1_uploads_complete_create").sync(
            upload_id=upload.id,
            client=client,
            body=models.UploadFinishRequest(analyse=True),
            idempotency_key="upload-5521-complete",
        )
        assert isinstance(recording, models.Recording), recording
        assert recording.latest_job.status == "queued"

        attempts = receiver.wait_for(3, timeout_s=ANALYSIS_TIMEOUT_S)

    assert [attempt.answered for attempt in attempts] == [500, 503, 200]
    assert len({attempt.headers["Moodline-Webhook-Id"] for attempt in attempts}) == 1
    delivery = attempts[-1]
    assert signature_is_valid(endpoint.secret, delivery.headers, delivery.body)
    event = orjson.loads(delivery.body)
    assert event["type"] == "analysis.succeeded", event
    assert event["data"]["session"] == str(session.id)
    assert event["data"]["recording"] == str(recording.id)

    job = _module(api + "v1_jobs_retrieve").sync(job_id=event["data"]["job"], client=client)
    assert (job.status, job.progress) == ("succeeded", 100)
    timeline = _module(api + "v1_sessions_timeline_retrieve").sync(
        session_id=session.id, client=client
    )
    document = timeline.to_dict()
    assert document["session"] == str(session.id)
    assert document["duration_s"] == pytest.approx(2.0, abs=0.3)
    bundle = (
        _module(api + "v1_sessions_fhir_retrieve")
        .sync(session_id=session.id, client=client)
        .to_dict()
    )
    assert bundle["resourceType"] == "Bundle"
    assert any(entry["resource"]["resourceType"] == "Observation" for entry in bundle["entry"])

    # Its key holds no scope for the clinicians' notes, and the generated client says so.
    refused = _module(api + "v1_sessions_annotations_list").sync_detailed(
        session_id=session.id, client=client
    )
    assert refused.status_code == 403
    assert refused.parsed.error.code == "scope_missing"
