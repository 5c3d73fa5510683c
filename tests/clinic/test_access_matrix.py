"""Every role against every page, API endpoint and WebSocket: the authorisation matrix.

The routes come from the URL configuration itself, so a new endpoint without a row in
tests/clinic/access_rules.py fails here before it can ship unguarded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import channels.db
import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from clinic.models import Annotation, Consent, ConsentScope, Patient, Recording, User
from clinic.routing import websocket_urlpatterns
from clinic.services.integrations import integration_create
from clinic.services.resumable_uploads import upload_start
from clinic.services.webhooks import webhook_endpoint_register
from tests.clinic.access_rules import (
    ADMIN,
    ANON,
    AUDITOR,
    BY_MODEL_PERMISSION,
    CARE,
    OUTSIDER,
    PARAMETERS,
    PERSONAS,
    URL_RULES,
    WEBSOCKET_RULES,
    Expected,
    Rule,
)
from tests.clinic.analysed import analyse

PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
ADMIN_MODEL_PAGE = re.compile(
    r"^admin:(?P<app>[a-z_]+?)_(?P<model>[a-z]+)_(?P<page>changelist|add)$"
)


@dataclass(frozen=True)
class Route:
    name: str  # namespaced url name
    template: str  # the path with <converter:name> placeholders

    def __str__(self) -> str:
        return self.name

    @property
    def parameters(self) -> list[str]:
        return [match["name"] for match in PARAMETER.finditer(self.template)]


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}{pattern.namespace}:"
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and (pattern.name or not namespace):
            yield Route(f"{namespace}{pattern.name or ''}", prefix + str(pattern.pattern))
        # Unnamed routes inside a namespace are the admin's redirects to named pages.


ROUTES = sorted(_walk(get_resolver().url_patterns), key=lambda route: route.name)


def _rule_for(route: Route) -> Rule | None:
    if route.name in URL_RULES:
        return URL_RULES[route.name]
    if route.name.startswith("admin:"):
        return URL_RULES.get("admin:*")
    return None


def _probed(route: Route) -> bool:
    # Admin pages with parameters (object ids, app labels) are covered by their model's list page.
    return not (route.name.startswith("admin:") and route.parameters)


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    unnamed = [route.template for route in ROUTES if not route.name]
    assert unnamed == [], "name these routes so that the authorisation table can refer to them"
    missing = [route.name for route in ROUTES if _rule_for(route) is None]
    assert missing == [], f"add rows to tests/clinic/access_rules.py for {missing}"
    names = {route.name for route in ROUTES}
    stale = [name for name in URL_RULES if name != "admin:*" and name not in names]
    assert stale == [], f"rows without a route: {stale}"
    unknown = {name for route in ROUTES if _probed(route) for name in route.parameters} - set(
        PARAMETERS
    )
    assert unknown == set(), f"add {unknown} to PARAMETERS and to the scenario"
    for rule in URL_RULES.values():
        assert set(rule.expect) == set(PERSONAS)


@pytest.fixture
def scenario(
    patient: Patient,
    consents: dict[str, Consent],
    recording: Recording,
    dr_rivera: User,
    dr_okafor: User,
    alex_admin: User,
    audrey_auditor: User,
    tmp_path: Path,
) -> dict[str, Any]:
    """P-0042's analysed session with a note on it, and everyone who might knock."""
    job = analyse(recording, modalities=["video", "audio", "transcript"], workdir=tmp_path)
    note = Annotation.objects.create(
        session=recording.session, author=dr_rivera, t_s=0.5, text="Looked away."
    )
    alex_admin.is_staff = True
    alex_admin.save()
    ehr = integration_create(organisation=patient.organisation, name="Northside EHR")
    endpoint = webhook_endpoint_register(
        integration=ehr, url="https://ehr.example.org/hooks", events=["analysis.succeeded"]
    ).endpoint
    return {
        "users": {
            ANON: None,
            CARE: dr_rivera,
            OUTSIDER: dr_okafor,
            ADMIN: alex_admin,
            AUDITOR: audrey_auditor,
        },
        "parameters": {
            "patient_id": patient.id,
            "session_id": recording.session_id,
            "recording_id": recording.id,
            "job_id": job.id,
            "annotation_id": note.id,
            "consent_id": consents[ConsentScope.FACE].id,
            "endpoint_id": endpoint.id,
            "upload_id": upload_start(
                session=recording.session, filename="visit.mp4", size_bytes=10, started_by=dr_rivera
            ).id,
            "kind": "summary.pdf",
        },
    }


def _path(route: Route, parameters: dict[str, Any]) -> str:
    return "/" + PARAMETER.sub(lambda match: str(parameters[match["name"]]), route.template)


def _expected(route: Route, rule: Rule, persona: str, user: User | None) -> Expected:
    expected = rule.expect[persona]
    if expected != BY_MODEL_PERMISSION:
        return expected
    page = ADMIN_MODEL_PAGE.match(route.name)
    assert page is not None, f"{route.name}: give it its own row"
    action = "view" if page["page"] == "changelist" else "add"
    assert user is not None
    return 200 if user.has_perm(f"{page['app']}.{action}_{page['model']}") else 403


def _misses(route: Route, scenario: dict[str, Any]) -> dict[str, tuple[int, Expected]]:
    """The personas that did not get what the table says, with (got, expected)."""
    rule = _rule_for(route)
    assert rule is not None
    path = _path(route, scenario["parameters"])
    wrong: dict[str, tuple[int, Expected]] = {}
    for persona in PERSONAS:
        user: User | None = scenario["users"][persona]
        client = Client()
        if user is not None:
            client.force_login(user)
        if rule.method == "GET":
            response = client.get(path)
        elif rule.method == "POST":
            response = client.post(path, dict(rule.data))
        else:
            body = json.dumps(dict(rule.data))
            response = client.generic(rule.method, path, body, "application/json")
        expected = _expected(route, rule, persona, user)
        got = response.status_code
        if not (got in expected if isinstance(expected, frozenset) else got == expected):
            wrong[persona] = (got, expected)
    return wrong


@pytest.fixture(autouse=True)
def quick_passwords(settings: Any) -> None:
    """Hashing five personas' passwords properly for every route would take minutes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route", [route for route in ROUTES if not route.name.startswith("admin:")], ids=str
)
def test_each_page_and_endpoint_answers_each_persona_as_the_table_says(
    route: Route, scenario: dict[str, Any]
) -> None:
    rule = _rule_for(route)
    assert rule is not None
    assert _misses(route, scenario) == {}, f"{rule.method} {route.template}"


@pytest.mark.django_db
def test_the_admin_lets_in_staff_only_and_then_by_model_permission(
    scenario: dict[str, Any],
) -> None:
    admin_routes = [route for route in ROUTES if route.name.startswith("admin:") and _probed(route)]
    assert len(admin_routes) > 20
    misses = {route.name: _misses(route, scenario) for route in admin_routes}
    assert {name: wrong for name, wrong in misses.items() if wrong} == {}


def _websocket_routes() -> list[str]:
    return [str(pattern.pattern) for pattern in websocket_urlpatterns]


def test_every_websocket_route_has_a_rule() -> None:
    assert sorted(_websocket_routes()) == sorted(WEBSOCKET_RULES)


@pytest.mark.django_db
@pytest.mark.parametrize("template", _websocket_routes())
def test_each_persona_is_accepted_or_refused_at_the_websocket(
    template: str, scenario: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The consumer's database calls run on this thread, inside the test's transaction; the
    # connection hygiene Channels does around them would close it under the test.
    monkeypatch.setattr(channels.db, "close_old_connections", lambda: None)
    application = URLRouter(websocket_urlpatterns)
    path = _path(Route("ws", template), scenario["parameters"])
    outcomes: dict[str, bool] = {}
    for persona in PERSONAS:
        communicator = WebsocketCommunicator(application, path)
        user = scenario["users"][persona]
        if user is not None:
            communicator.scope["user"] = user

        async def knock(communicator: WebsocketCommunicator = communicator) -> bool:
            connected, _ = await communicator.connect(timeout=10)
            if connected:
                await communicator.disconnect()
            return bool(connected)

        outcomes[persona] = async_to_sync(knock)()
    assert outcomes == dict(WEBSOCKET_RULES[template])
