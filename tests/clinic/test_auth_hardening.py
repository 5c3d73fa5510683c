"""Signing in: guessing is throttled, idle sessions end, staff pass a second factor, and the
production settings pass Django's deployment checklist."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import channels.db
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.asgi import application
from clinic.crypto import new_master_key
from clinic.models import AuditEvent, Recording, User
from clinic.two_factor import TWO_FACTOR_REQUIRED_CODE
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

REPO_ROOT = Path(__file__).resolve().parents[2]
IDLE_LIMIT = dt.timedelta(minutes=15)


def test_brute_force_login_gets_throttled_even_for_the_right_password(
    client: Client, dr_rivera: User, settings: Any
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        guess = client.post("/login/", {"username": "dr_rivera", "password": f"guess {attempt}"})
        assert guess.status_code in (200, 429)

    locked = client.post("/login/", {"username": "dr_rivera", "password": TEST_PASSWORD})

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_is_on_the_guessed_account_so_a_colleague_at_the_same_address_signs_in(
    client: Client, dr_rivera: User, dr_okafor: User, settings: Any
) -> None:
    for attempt in range(settings.AXES_FAILURE_LIMIT + 1):
        client.post("/login/", {"username": "dr_rivera", "password": f"guess {attempt}"})
    colleague = Client()
    signed_in = colleague.post("/login/", {"username": "dr_okafor", "password": TEST_PASSWORD})
    assert signed_in.status_code == 302
    assert colleague.session["_auth_user_id"] == str(dr_okafor.pk)


def test_a_guesser_who_forges_a_new_address_for_each_try_is_still_locked_out(
    client: Client, dr_rivera: User, settings: Any
) -> None:
    for attempt in range(2 * settings.AXES_FAILURE_LIMIT):
        client.post(
            "/login/",
            {"username": "dr_rivera", "password": f"guess {attempt}"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}",
        )

    locked = client.post(
        "/login/",
        {"username": "dr_rivera", "password": TEST_PASSWORD},
        HTTP_X_FORWARDED_FOR="192.0.2.77",
    )

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Nothing the guesser wrote reached the audit trail as their address.
    addresses = set(AuditEvent.objects.values_list("ip", flat=True))
    assert not {a for a in addresses if a and a.startswith(("198.51.100.", "192.0.2."))}


@pytest.mark.parametrize(
    ("peer", "forwarded", "recorded"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not our proxy: its header means nothing
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", "198.51.100.7"),  # the hop that reached our proxy
        ("10.0.0.2", "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # through two of our proxies
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
    ],
)
def test_the_audit_trail_records_the_address_our_proxies_vouch_for(
    client: Client, dr_rivera: User, settings: Any, peer: str, forwarded: str, recorded: str
) -> None:
    settings.MOODLINE_TRUSTED_PROXIES = ["10.0.0.0/24"]
    client.force_login(dr_rivera)

    client.get("/api/v1/patients/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)

    event = AuditEvent.objects.filter(actor=dr_rivera).latest("at")
    assert event.ip == recorded


def test_an_idle_session_is_logged_off_after_fifteen_minutes(
    client: Client, dr_rivera: User, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    assert dt.timedelta(seconds=settings.SESSION_COOKIE_AGE) == IDLE_LIMIT
    signed_in = client.post("/login/", {"username": "dr_rivera", "password": TEST_PASSWORD})
    assert signed_in.status_code == 302
    started = timezone.now()

    def clock(offset: dt.timedelta) -> None:
        monkeypatch.setattr(timezone, "now", lambda: started + offset)

    clock(dt.timedelta(minutes=14))
    assert client.get("/").status_code == 200  # still there, and the idle clock restarts
    clock(dt.timedelta(minutes=14 + 14))
    assert client.get("/").status_code == 200
    clock(dt.timedelta(minutes=14 + 14 + 16))
    logged_off = client.get("/")
    assert logged_off.status_code == 302
    assert logged_off["Location"].startswith("/login/")


def _totp_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def _current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_staff_must_enter_their_totp_code_before_seeing_anything(
    client: Client, dr_rivera: User, settings: Any
) -> None:
    settings.MOODLINE_REQUIRE_2FA = True
    device = _totp_device(dr_rivera)
    client.force_login(dr_rivera)

    page = client.get("/")
    assert page.status_code == 302
    assert page["Location"] == "/accounts/verify/?next=%2F"
    api = client.get("/api/v1/patients/")
    assert (api.status_code, api.json()["code"]) == (403, TWO_FACTOR_REQUIRED_CODE)

    verified = client.post(
        "/accounts/verify/?next=/",
        {"otp_device": device.persistent_id, "otp_token": _current_code(device)},
    )
    assert (verified.status_code, verified["Location"]) == (302, "/")
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.get(action="auth.otp_verify").outcome == "success"


def test_a_wrong_code_is_refused_and_slows_down_the_next_attempt(
    client: Client, dr_rivera: User, settings: Any
) -> None:
    settings.MOODLINE_REQUIRE_2FA = True
    device = _totp_device(dr_rivera)
    client.force_login(dr_rivera)
    wrong_code = f"{(int(_current_code(device)) + 1) % 1_000_000:06d}"

    wrong = client.post(
        "/accounts/verify/?next=/", {"otp_device": device.persistent_id, "otp_token": wrong_code}
    )
    right_too_soon = client.post(
        "/accounts/verify/?next=/",
        {"otp_device": device.persistent_id, "otp_token": _current_code(device)},
    )

    assert (wrong.status_code, right_too_soon.status_code) == (200, 200)
    assert client.get("/").status_code == 302
    outcomes = AuditEvent.objects.filter(action="auth.otp_verify").values_list("outcome", flat=True)
    assert list(outcomes) == ["failure", "failure"]


def test_the_verify_page_will_not_send_anyone_to_another_site(
    client: Client, dr_rivera: User, settings: Any
) -> None:
    settings.MOODLINE_REQUIRE_2FA = True
    device = _totp_device(dr_rivera)
    client.force_login(dr_rivera)
    response = client.post(
        "/accounts/verify/?next=https://evil.example/",
        {"otp_device": device.persistent_id, "otp_token": _current_code(device)},
    )
    assert response["Location"] == "/"


def _production(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{key: value for key, value in os.environ.items() if not key.endswith("_FILE")},
        "MOODLINE_ENV": "production",
        "DEBUG": "false",
        "SECRET_KEY": new_master_key() + new_master_key(),
        "ALLOWED_HOSTS": "moodline.example.org",
        "MOODLINE_ENCRYPTION_KEYS": new_master_key(),
        "EXTERNAL_ID_KEY": new_master_key() + new_master_key(),
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/moodline"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        **overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_manage_py_check_deploy_is_clean_with_production_settings() -> None:
    result = _production()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("key", ["MOODLINE_ENCRYPTION_KEYS", "EXTERNAL_ID_KEY"])
def test_production_refuses_to_start_without_its_keys(key: str) -> None:
    result = _production(**{key: ""})
    assert result.returncode != 0
    assert f"{key} must be set in production" in result.stderr


def _progress_socket(client: Client, session_id: object) -> WebsocketCommunicator:
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, f"/ws/sessions/{session_id}/progress/", headers)


def _connects(communicator: WebsocketCommunicator) -> bool:
    async def knock() -> bool:
        connected, _ = await communicator.connect(timeout=10)
        if connected:
            await communicator.disconnect()
        return bool(connected)

    return async_to_sync(knock)()


def test_the_progress_websocket_also_waits_for_the_second_factor(
    client: Client,
    dr_rivera: User,
    recording: Recording,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The socket's database calls run inside this test's transaction: keep its connection open.
    monkeypatch.setattr(channels.db, "close_old_connections", lambda: None)
    settings.MOODLINE_REQUIRE_2FA = True
    device = _totp_device(dr_rivera)
    client.force_login(dr_rivera)
    assert not _connects(_progress_socket(client, recording.session_id))

    code = {"otp_device": device.persistent_id, "otp_token": _current_code(device)}
    assert client.post("/accounts/verify/", code).status_code == 302
    assert _connects(_progress_socket(client, recording.session_id))


def test_the_production_server_leaves_forwarded_headers_to_the_trusted_proxy_check() -> None:
    # A server that rewrites the client address from X-Forwarded-For (Daphne's --proxy-headers,
    # uvicorn's default for its own forwarded-allow list) acts before any Django code runs.
    entrypoint = (REPO_ROOT / "docker" / "entrypoint.sh").read_text()
    assert "exec uvicorn clinic.asgi:application" in entrypoint
    assert "--no-proxy-headers" in entrypoint
    assert " --proxy-headers" not in entrypoint
