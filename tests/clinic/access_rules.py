"""The authorisation table: for every route, what each kind of visitor gets.

tests/clinic/test_access_matrix.py walks the URL configuration (and the WebSocket routes) and
probes every route as every persona below, so a route without a row here fails the suite.
When you add a route, add its row.

FORMAT

    URL_RULES["<url name, with namespace: 'api-job-detail', 'admin:index'>"] = Rule(
        expect={ANON: 302, CARE: 200, OUTSIDER: 404, ADMIN: 404, AUDITOR: 404},
        method="GET",          # the method probed: POST sends `data` as form data,
                               # PATCH, PUT and DELETE send it as JSON
        data={},               # the request body, if any
    )

`expect` maps every persona to the status code it must get, or to a frozenset of acceptable
codes when the answer legitimately varies (health: 200 or 503). Helpers build the usual rows:
`care_team(ok)` (only the patient's care team; everyone else the same 404 as a missing id),
`signed_in(ok)`, `auditors_only()`.

URL parameters are filled by name from the objects of the scenario (PARAMETERS): a route
with a parameter not listed there fails until it is added to PARAMETERS and the fixture.

Personas (all of Northside Therapy, signed in with a verified second factor):
    ANON      nobody signed in
    CARE      Dr Rivera, clinician on P-0042's care team
    OUTSIDER  Dr Okafor, clinician of the same practice, not on the care team
    ADMIN     Alex, practice administrator (Django staff)
    AUDITOR   Audrey, auditor

Django admin URLs are covered by the "admin:*" row: only their parameter-free pages are probed;
for ADMIN the expected status follows the model permissions of the practice administrator
role (BY_MODEL_PERMISSION: 200 with the view/add permission of the page's model, else 403).
A specific "admin:<name>" row overrides it.

WEBSOCKET_RULES maps each WebSocket route (as written in clinic/routing.py) to whether each
persona's connection is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ANON = "anonymous"
CARE = "care team clinician"
OUTSIDER = "other clinician"
ADMIN = "practice admin"
AUDITOR = "auditor"
PERSONAS = (ANON, CARE, OUTSIDER, ADMIN, AUDITOR)

BY_MODEL_PERMISSION = -1  # see the module docstring: admin pages follow model permissions
HEALTH = frozenset({200, 503})  # 503 when no worker is running, which is fine in a test
API_SIGNED_OUT = 401  # DRF asks for a key (WWW-Authenticate: Bearer)
LOGIN_REDIRECT = 302

Expected = int | frozenset[int]


@dataclass(frozen=True)
class Rule:
    expect: Mapping[str, Expected]  # persona -> status code(s)
    method: str = "GET"
    data: Mapping[str, str] = field(default_factory=dict)  # POST body


def care_team(ok: Expected, *, anon: int = LOGIN_REDIRECT, method: str = "GET") -> Rule:
    """Only the patient's care team; everyone else gets the 404 a missing id would get."""
    return Rule(
        {ANON: anon, CARE: ok, OUTSIDER: 404, ADMIN: 404, AUDITOR: 404},
        method=method,
    )


def signed_in(ok: Expected, *, anon: int = LOGIN_REDIRECT, method: str = "GET") -> Rule:
    return Rule({ANON: anon, CARE: ok, OUTSIDER: ok, ADMIN: ok, AUDITOR: ok}, method=method)


def everyone(ok: Expected, *, method: str = "GET") -> Rule:
    return Rule(dict.fromkeys(PERSONAS, ok), method=method)


def auditors_only() -> Rule:
    return Rule({ANON: LOGIN_REDIRECT, CARE: 403, OUTSIDER: 403, ADMIN: 403, AUDITOR: 200})


URL_RULES: dict[str, Rule] = {
    # Operations and sign-in.
    "healthz": everyone(HEALTH),
    "login": Rule({ANON: 200, CARE: 302, OUTSIDER: 302, ADMIN: 302, AUDITOR: 302}),
    "logout": everyone(200, method="POST"),
    "otp-verify": signed_in(200),
    # The audit trail is the auditors' alone.
    "audit-log": auditors_only(),
    "audit-export": auditors_only(),
    # Clinician UI.
    "session-list": signed_in(200),
    # Opening a session is a clinician's: the form, for either clinician; others are refused.
    "session-new": Rule({ANON: 302, CARE: 200, OUTSIDER: 200, ADMIN: 403, AUDITOR: 403}),
    "session-review": care_team(200),
    "patient-page": care_team(200),
    "recording-media": care_team(200),
    # Probed without ?t_s=: the care team is told what is missing; others the usual 404.
    "recording-frame": care_team(400),
    # REST API.
    # The schema holds no data but maps every operation: signed-in users and tokens only.
    "api-schema": signed_in(200, anon=API_SIGNED_OUT),
    "api-docs": signed_in(200, anon=API_SIGNED_OUT),
    "api-patient-list": signed_in(200, anon=API_SIGNED_OUT),
    # The practice administrator sees the patient list (care teams, consent), nothing clinical.
    "api-patient-detail": Rule(
        {ANON: API_SIGNED_OUT, CARE: 200, OUTSIDER: 404, ADMIN: 200, AUDITOR: 404}
    ),
    # Consent: the care team and the practice's administrator; never the auditor.
    "api-consent-list": Rule(
        {ANON: API_SIGNED_OUT, CARE: 200, OUTSIDER: 404, ADMIN: 200, AUDITOR: 404}
    ),
    # The care team revokes first; the administrator then finds it already revoked (409).
    "api-consent-revoke": Rule(
        {ANON: API_SIGNED_OUT, CARE: 200, OUTSIDER: 404, ADMIN: 409, AUDITOR: 404}, "POST"
    ),
    "api-session-list": signed_in(200, anon=API_SIGNED_OUT),
    "api-session-detail": care_team(200, anon=API_SIGNED_OUT),
    "api-recording-upload": care_team(400, anon=API_SIGNED_OUT, method="POST"),
    # A resumable upload: started by the care team, then its starter's alone.
    "api-upload-start": care_team(400, anon=API_SIGNED_OUT, method="POST"),
    "api-upload": care_team(200, anon=API_SIGNED_OUT),
    "api-upload-complete": care_team(409, anon=API_SIGNED_OUT, method="POST"),
    "api-session-timeline": care_team(200, anon=API_SIGNED_OUT),
    "api-session-fhir": care_team(200, anon=API_SIGNED_OUT),
    "api-session-export": care_team(200, anon=API_SIGNED_OUT),
    # The whole record: the care team only (the administrator sees the list, not the record).
    "api-patient-fhir": care_team(200, anon=API_SIGNED_OUT),
    "api-annotation-list": care_team(200, anon=API_SIGNED_OUT),
    "api-annotation-detail": care_team(200, anon=API_SIGNED_OUT, method="PATCH"),
    "api-recording-detail": care_team(200, anon=API_SIGNED_OUT),
    "api-recording-analyse": care_team(frozenset({201, 202}), anon=API_SIGNED_OUT, method="POST"),
    # Probed with no roles: the care team is told to set one; others the usual 404.
    "api-recording-roles": care_team(400, anon=API_SIGNED_OUT, method="POST"),
    "api-job-detail": care_team(200, anon=API_SIGNED_OUT),
    "api-job-cancel": care_team(409, anon=API_SIGNED_OUT, method="POST"),
    # Webhooks belong to integrations (tests/clinic/test_integration_scopes.py): staff, 403.
    "api-webhook-list": signed_in(403, anon=API_SIGNED_OUT),
    "api-webhook-detail": signed_in(403, anon=API_SIGNED_OUT, method="DELETE"),
    "api-webhook-deliveries": signed_in(403, anon=API_SIGNED_OUT),
    # Django admin: staff only, then model permissions.
    "admin:*": Rule(
        {
            ANON: LOGIN_REDIRECT,
            CARE: LOGIN_REDIRECT,
            OUTSIDER: LOGIN_REDIRECT,
            ADMIN: BY_MODEL_PERMISSION,
            AUDITOR: LOGIN_REDIRECT,
        }
    ),
    "admin:index": Rule({ANON: 302, CARE: 302, OUTSIDER: 302, ADMIN: 200, AUDITOR: 302}),
    "admin:login": Rule({ANON: 200, CARE: 200, OUTSIDER: 200, ADMIN: 302, AUDITOR: 200}),
    "admin:logout": Rule({ANON: 302, CARE: 302, OUTSIDER: 302, ADMIN: 200, AUDITOR: 302}, "POST"),
    "admin:password_change": Rule({ANON: 302, CARE: 302, OUTSIDER: 302, ADMIN: 200, AUDITOR: 302}),
    "admin:password_change_done": Rule(
        {ANON: 302, CARE: 302, OUTSIDER: 302, ADMIN: 200, AUDITOR: 302}
    ),
    "admin:jsi18n": Rule({ANON: 302, CARE: 302, OUTSIDER: 302, ADMIN: 200, AUDITOR: 302}),
    "admin:autocomplete": Rule({ANON: 302, CARE: 302, OUTSIDER: 302, ADMIN: 403, AUDITOR: 302}),
}

# The URL parameter names routes use, and which object of the scenario fills each.
PARAMETERS = (
    "patient_id",
    "session_id",
    "recording_id",
    "job_id",
    "annotation_id",
    "consent_id",
    "endpoint_id",
    "upload_id",
    "kind",
)

WEBSOCKET_RULES: dict[str, Mapping[str, bool]] = {
    "ws/sessions/<uuid:session_id>/progress/": {
        ANON: False,
        CARE: True,
        OUTSIDER: False,
        ADMIN: False,
        AUDITOR: False,
    },
}
