"""Integrations' credentials: each scope allows exactly its operations, a practice's
integration sees nothing of another practice, and a key that is unknown, expired or revoked
is refused. Northside's EHR calls the API with keys the practice administrator issued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.api.auth import required_scope
from clinic.models import (
    AnalysisJob,
    AuditEvent,
    Consent,
    Integration,
    IntegrationKey,
    Organisation,
    Patient,
    Recording,
    User,
)
from clinic.roles import Role
from clinic.scopes import Scope
from clinic.services import job_create
from clinic.services.integrations import (
    integration_create,
    integration_key_issue,
    integration_key_revoke,
)
from clinic.services.resumable_uploads import upload_start
from clinic.services.webhooks import webhook_endpoint_register
from tests.clinic.integration_support import KeyClient, client_with
from tests.factories import (
    CareTeamMembershipFactory,
    OrganisationFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class World:
    patient: Patient
    recording: Recording
    job: AnalysisJob
    consent: Consent
    clinician: User
    clip: Path
    endpoint_id: str = ""
    upload_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: Callable[[World], str]
    scope: Scope
    ok: int
    body: Callable[[World], Any] | None = None
    multipart: bool = False
    content_type: str = ""


def _upload(world: World) -> dict[str, Any]:
    return {
        "file": SimpleUploadedFile("visit.mp4", world.clip.read_bytes(), "video/mp4"),
        "analyse": "false",
    }


OPERATIONS = (
    Operation("list patients", "get", lambda w: "/api/v1/patients/", Scope.PATIENTS_READ, 200),
    Operation(
        "read a patient",
        "get",
        lambda w: f"/api/v1/patients/{w.patient.id}/",
        Scope.PATIENTS_READ,
        200,
    ),
    Operation(
        "upsert a patient",
        "post",
        lambda w: "/api/v1/patients/",
        Scope.PATIENTS_WRITE,
        201,
        lambda w: {"identifier": {"system": "urn:ehr:mrn", "value": "MRN-77"}},
    ),
    Operation("list sessions", "get", lambda w: "/api/v1/sessions/", Scope.SESSIONS_READ, 200),
    Operation(
        "read a session",
        "get",
        lambda w: f"/api/v1/sessions/{w.recording.session_id}/",
        Scope.SESSIONS_READ,
        200,
    ),
    Operation(
        "read a recording",
        "get",
        lambda w: f"/api/v1/recordings/{w.recording.id}/",
        Scope.SESSIONS_READ,
        200,
    ),
    Operation("read a job", "get", lambda w: f"/api/v1/jobs/{w.job.id}/", Scope.SESSIONS_READ, 200),
    Operation(
        "book a session",
        "post",
        lambda w: "/api/v1/sessions/",
        Scope.SESSIONS_WRITE,
        201,
        lambda w: {
            "patient": str(w.patient.id),
            "clinician": str(w.clinician.public_id),
            "date": "2026-12-01",
        },
    ),
    Operation(
        "list consents",
        "get",
        lambda w: f"/api/v1/patients/{w.patient.id}/consents/",
        Scope.CONSENT_READ,
        200,
    ),
    Operation(
        "record consent",
        "post",
        lambda w: f"/api/v1/patients/{w.patient.id}/consents/",
        Scope.CONSENT_WRITE,
        201,
        lambda w: {"modality": "voice", "form_version": "2026-03", "given_by": "patient"},
    ),
    Operation(
        "revoke consent",
        "post",
        lambda w: f"/api/v1/consents/{w.consent.id}/revoke",
        Scope.CONSENT_WRITE,
        200,
        lambda w: {},
    ),
    Operation(
        "upload a recording",
        "post",
        lambda w: f"/api/v1/sessions/{w.recording.session_id}/recordings/",
        Scope.RECORDINGS_UPLOAD,
        201,
        _upload,
        multipart=True,
    ),
    Operation(
        "start a resumable upload",
        "post",
        lambda w: f"/api/v1/sessions/{w.recording.session_id}/uploads/",
        Scope.RECORDINGS_UPLOAD,
        201,
        lambda w: {"filename": "visit.mp4", "size_bytes": w.clip.stat().st_size},
    ),
    Operation(
        "ask where an upload stands",
        "get",
        lambda w: f"/api/v1/uploads/{w.upload_id}",
        Scope.RECORDINGS_UPLOAD,
        200,
    ),
    Operation(
        "send a piece of an upload",
        "patch",
        lambda w: f"/api/v1/uploads/{w.upload_id}",
        Scope.RECORDINGS_UPLOAD,
        200,
        lambda w: w.clip.read_bytes(),
        content_type="application/octet-stream",
    ),
    Operation(
        "finish an upload",
        "post",
        lambda w: f"/api/v1/uploads/{w.upload_id}/complete",
        Scope.RECORDINGS_UPLOAD,
        409,  # nothing sent yet: `upload_incomplete`
        lambda w: {"analyse": False},
    ),
    Operation(
        "cancel an analysis",
        "post",
        lambda w: f"/api/v1/jobs/{w.job.id}/cancel",
        Scope.ANALYSIS_WRITE,
        200,
        lambda w: {},
    ),
    Operation(
        # the job above is still queued: starting another is a conflict, but allowed to ask
        "start an analysis",
        "post",
        lambda w: f"/api/v1/recordings/{w.recording.id}/analyse",
        Scope.ANALYSIS_WRITE,
        409,
        lambda w: {},
    ),
    Operation(
        "read the timeline",
        "get",
        lambda w: f"/api/v1/sessions/{w.recording.session_id}/timeline/",
        Scope.TIMELINES_READ,
        404,  # not analysed yet: `no_timeline`, which only a reader of timelines is told
    ),
    Operation(
        "export FHIR",
        "get",
        lambda w: f"/api/v1/sessions/{w.recording.session_id}/fhir",
        Scope.FHIR_READ,
        200,
    ),
    Operation(
        "export the patient's record as FHIR",
        "get",
        lambda w: f"/api/v1/patients/{w.patient.id}/fhir",
        Scope.FHIR_READ,
        200,
    ),
    Operation("list webhooks", "get", lambda w: "/api/v1/webhooks/", Scope.WEBHOOKS_MANAGE, 200),
    Operation(
        "register a webhook",
        "post",
        lambda w: "/api/v1/webhooks/",
        Scope.WEBHOOKS_MANAGE,
        201,
        lambda w: {"url": "https://ehr.example.org/moodline", "events": ["analysis.succeeded"]},
    ),
    Operation(
        "list deliveries",
        "get",
        lambda w: f"/api/v1/webhooks/{w.endpoint_id}/deliveries/",
        Scope.WEBHOOKS_MANAGE,
        200,
    ),
    Operation(
        "remove a webhook",
        "delete",
        lambda w: f"/api/v1/webhooks/{w.endpoint_id}/",
        Scope.WEBHOOKS_MANAGE,
        204,
    ),
)
# Operations no key may call, whatever its scopes: the clinicians' own notes.
CLOSED = {
    ("api-annotation-list", "GET"),
    ("api-annotation-list", "POST"),
    ("api-annotation-detail", "PATCH"),
    ("api-annotation-detail", "DELETE"),
}


@pytest.fixture
def world(
    patient: Patient,
    consents: dict[str, Consent],
    recording: Recording,
    dr_rivera: User,
    session_clip: Path,
    northside_ehr: Integration,
) -> World:
    endpoint = webhook_endpoint_register(
        integration=northside_ehr, url="https://ehr.example.org/hooks", events=["consent.revoked"]
    ).endpoint
    # An upload is its starter's own: this one was started by the EHR.
    upload = upload_start(
        session=recording.session,
        filename="visit.mp4",
        size_bytes=session_clip.stat().st_size,
        started_by=northside_ehr.account,
    )
    return World(
        patient=patient,
        recording=recording,
        job=job_create(recording=recording, requested_by=dr_rivera),
        consent=consents["face"],
        clinician=dr_rivera,
        clip=session_clip,
        endpoint_id=str(endpoint.id),
        upload_id=str(upload.id),
    )


def _call(client: APIClient, operation: Operation, world: World) -> Any:
    body = operation.body(world) if operation.body else None
    send = getattr(client, operation.method)
    if body is None:
        return send(operation.path(world))
    if operation.content_type:  # the bytes of a piece, with the offset they start at
        return send(
            operation.path(world), body, content_type=operation.content_type, HTTP_UPLOAD_OFFSET="0"
        )
    return send(operation.path(world), body, format="multipart" if operation.multipart else "json")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_each_scope_allows_its_operation_and_no_other_scope_does(
    operation: Operation, world: World, ehr_client: KeyClient
) -> None:
    everything_else = ehr_client(*(scope for scope in Scope if scope is not operation.scope))
    refused = _call(everything_else, operation, world)
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"] == {
        "code": "scope_missing",
        "message": f"This API key lacks the scope {operation.scope.value}.",
        "fields": {},
    }

    allowed = _call(ehr_client(operation.scope), operation, world)
    assert allowed.status_code == operation.ok, allowed.content


def _api_operations() -> list[tuple[str, str, Any]]:
    found = []
    for pattern in get_resolver("clinic.api.urls").url_patterns:
        assert isinstance(pattern, URLPattern)
        view = getattr(pattern.callback, "view_class", None)
        if (
            view is None
            or not str(pattern.name).startswith("api-")
            or "v1/" not in str(pattern.pattern)
        ):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.append((str(pattern.name), method.upper(), view))
    return found


def test_every_api_operation_names_its_scope_or_is_closed_to_integrations() -> None:
    operations = _api_operations()
    assert len(operations) > 20
    scoped = {(name, method) for name, method, view in operations if required_scope(view, method)}
    closed = {(name, method) for name, method, _ in operations} - scoped
    assert closed == CLOSED
    tested = {(operation.scope, operation.method.upper()) for operation in OPERATIONS}
    for name, method, view in operations:
        scope = required_scope(view, method)
        assert scope is None or (scope, method) in tested, (name, method)


def test_a_key_with_every_scope_still_cannot_read_the_clinicians_notes(
    world: World, ehr_client: KeyClient
) -> None:
    notes = ehr_client().get(f"/api/v1/sessions/{world.recording.session_id}/annotations/")
    assert notes.status_code == 403
    assert notes.json()["error"]["message"] == "Integrations may not use this operation."


def test_an_integration_of_another_practice_sees_nothing_of_northside(
    world: World, ehr_client: KeyClient
) -> None:
    southside = OrganisationFactory.create(name="Southside Counselling")
    southside_ehr = integration_create(organisation=southside, name="Southside EHR")
    theirs = ehr_client(integration=southside_ehr)
    session_id = world.recording.session_id

    assert theirs.get("/api/v1/patients/").json()["results"] == []
    assert theirs.get("/api/v1/sessions/").json()["results"] == []
    for path in (
        f"/api/v1/patients/{world.patient.id}/",
        f"/api/v1/patients/{world.patient.id}/consents/",
        f"/api/v1/sessions/{session_id}/",
        f"/api/v1/sessions/{session_id}/timeline/",
        f"/api/v1/sessions/{session_id}/fhir",
        f"/api/v1/recordings/{world.recording.id}/",
        f"/api/v1/jobs/{world.job.id}/",
    ):
        assert theirs.get(path).status_code == 404, path
    assert theirs.post(f"/api/v1/consents/{world.consent.id}/revoke", {}).status_code == 404
    assert theirs.get(f"/api/v1/webhooks/{world.endpoint_id}/deliveries/").status_code == 404
    # Northside's patient identifier names nobody at Southside: a new patient of theirs.
    identifier = {"system": "urn:ehr:mrn", "value": "MRN-42"}
    ours = ehr_client().post("/api/v1/patients/", {"identifier": identifier}, format="json")
    southside_patient = theirs.post("/api/v1/patients/", {"identifier": identifier}, format="json")
    assert (ours.status_code, southside_patient.status_code) == (201, 201)
    assert ours.json()["id"] != southside_patient.json()["id"]
    assert Patient.objects.get(id=southside_patient.json()["id"]).organisation == southside


def test_an_integration_confined_to_a_care_team_sees_only_that_team_s_patients(
    world: World, northside: Organisation, dr_okafor: User, ehr_client: KeyClient
) -> None:
    okafor_only = integration_create(
        organisation=northside, name="Okafor's scheduling", care_team_clinicians=[dr_okafor]
    )
    theirs = ehr_client(integration=okafor_only)
    okafor_patient = PatientFactory.create(organisation=northside, pseudonym="P-0100")
    CareTeamMembershipFactory.create(patient=okafor_patient, clinician=dr_okafor)

    assert [p["pseudonym"] for p in theirs.get("/api/v1/patients/").json()["results"]] == ["P-0100"]
    assert theirs.get(f"/api/v1/patients/{world.patient.id}/").status_code == 404
    # Booking with a clinician outside its teams is refused, even for its own patient.
    CareTeamMembershipFactory.create(patient=okafor_patient, clinician=world.clinician)
    refused = theirs.post(
        "/api/v1/sessions/",
        {
            "patient": str(okafor_patient.id),
            "clinician": str(world.clinician.public_id),
            "date": "2026-12-01",
        },
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "outside_integration_care_teams"


def test_unknown_expired_and_revoked_keys_are_refused_with_a_coded_401(
    world: World, northside_ehr: Integration
) -> None:
    live = integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])
    assert client_with(live.secret).get("/api/v1/patients/").status_code == 200

    expired = integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])
    IntegrationKey.objects.filter(id=expired.key.id).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    wrong_secret = live.secret[:-4] + ("AAAA" if not live.secret.endswith("AAAA") else "BBBB")
    for presented in (
        expired.secret,
        wrong_secret,
        "mlk_00000000_" + "x" * 43,
        "not-a-key",
        live.secret + " extra",
    ):
        refused = client_with(presented).get("/api/v1/patients/")
        assert refused.status_code == 401, presented
        assert refused.json()["error"]["code"] == "credential_invalid"
        assert refused["WWW-Authenticate"] == 'Bearer realm="api"'

    integration_key_revoke(key=live.key)
    assert client_with(live.secret).get("/api/v1/patients/").json()["error"]["code"] == (
        "credential_invalid"
    )


def test_a_switched_off_integration_is_refused_whatever_its_keys(
    northside_ehr: Integration,
) -> None:
    issued = integration_key_issue(integration=northside_ehr, scopes=list(Scope))
    Integration.objects.filter(id=northside_ehr.id).update(is_active=False)
    assert client_with(issued.secret).get("/api/v1/patients/").status_code == 401


def test_keys_rotate_without_downtime_two_live_at_most(northside_ehr: Integration) -> None:
    old = integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])
    new = integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])
    # Both work while the EHR switches over.
    assert client_with(old.secret).get("/api/v1/patients/").status_code == 200
    assert client_with(new.secret).get("/api/v1/patients/").status_code == 200
    with pytest.raises(Exception, match="at most two live keys"):
        integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])

    integration_key_revoke(key=old.key)
    assert client_with(old.secret).get("/api/v1/patients/").status_code == 401
    assert client_with(new.secret).get("/api/v1/patients/").status_code == 200
    third = integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])
    assert third.secret.startswith(f"mlk_{third.key.prefix}_")
    assert third.secret not in {old.secret, new.secret}


def test_a_key_is_stored_only_as_a_digest_and_its_last_use_is_recorded(
    northside_ehr: Integration,
) -> None:
    issued = integration_key_issue(integration=northside_ehr, scopes=[Scope.PATIENTS_READ])
    # mlk_<prefix>_<secret>: the secret itself may hold underscores
    secret_part = issued.secret.split("_", 2)[2]
    stored = IntegrationKey.objects.filter(id=issued.key.id).values().get()
    assert all(secret_part not in str(value) for value in stored.values())
    assert stored["last_used_at"] is None

    client_with(issued.secret).get("/api/v1/patients/")
    assert IntegrationKey.objects.get(id=issued.key.id).last_used_at is not None


def test_every_call_is_audited_as_the_integration_with_the_key_that_made_it(
    world: World, northside_ehr: Integration
) -> None:
    issued = integration_key_issue(integration=northside_ehr, scopes=[Scope.SESSIONS_READ])
    client_with(issued.secret).get(f"/api/v1/sessions/{world.recording.session_id}/")
    event = AuditEvent.objects.get(action="session.view")
    assert event.actor == northside_ehr.account
    assert event.details["credential"] == f"mlk_{issued.key.prefix}"
    assert event.patient_id == world.patient.id


def test_an_integration_is_held_to_its_rate_limit_and_others_are_not(
    world: World, northside: Organisation, ehr_client: KeyClient
) -> None:
    Integration.objects.filter(name="Northside EHR").update(requests_per_minute=3)
    busy = ehr_client(Scope.PATIENTS_READ)
    other = ehr_client(
        Scope.PATIENTS_READ, integration=integration_create(organisation=northside, name="Other")
    )
    answers = [busy.get("/api/v1/patients/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = busy.get("/api/v1/patients/")
    assert limited.json()["error"]["code"] == "throttled"
    assert 0 < int(limited["Retry-After"]) <= 60
    assert other.get("/api/v1/patients/").status_code == 200


def test_the_integration_s_account_cannot_use_a_staff_token_or_sign_in(
    world: World, northside_ehr: Integration
) -> None:
    account = northside_ehr.account
    token = Token.objects.create(user=account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/patients/").status_code == 403
    assert not account.has_usable_password()
    assert account.is_integration
    assert (account.is_clinician, account.is_staff) == (False, False)


def test_only_clinicians_of_the_practice_join_a_confinement(northside: Organisation) -> None:
    outsider = UserFactory.create(
        username="dr_elsewhere",
        organisation=OrganisationFactory.create(name="Elsewhere"),
        role=Role.CLINICIAN,
    )
    with pytest.raises(Exception, match="Only a clinician of the patient's practice"):
        integration_create(organisation=northside, name="Bad", care_team_clinicians=[outsider])
