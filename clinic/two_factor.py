"""Second factor for staff: a TOTP code (django-otp) after the password, when required.

`MOODLINE_REQUIRE_2FA` (on in production) makes every signed-in member of staff pass a TOTP
check before any page or API call; until then they are sent to the verify page (or get a 403
from the API). Devices are enrolled by an administrator in the admin (TOTP devices, with a QR
code to scan). Token-authenticated API clients are integrations, not people, and are not asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.forms import OTPTokenForm
from django_otp.models import Device

from analysis.errors import ErrorCode
from clinic.audit import audit_record
from clinic.models import AuditEvent

# Paths a signed-in but unverified user may still reach: verifying, leaving, health, assets.
EXEMPT_PATH_PREFIXES = ("/accounts/verify", "/logout", "/login", "/healthz", "/static/")
TWO_FACTOR_REQUIRED_CODE = ErrorCode.TWO_FACTOR_REQUIRED


class RequireTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_verify(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "code": TWO_FACTOR_REQUIRED_CODE,
                        "detail": "Verify your sign-in code first.",
                    },
                    status=403,
                )
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('otp-verify')}?{query}")
        return self.get_response(request)

    @staticmethod
    def _must_verify(request: HttpRequest) -> bool:
        if not settings.MOODLINE_REQUIRE_2FA:
            return False
        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return False
        return not request.path.startswith(EXEMPT_PATH_PREFIXES)


class RequireTwoFactorWebSocketMiddleware:
    """The WebSocket side of the same rule: an unverified member of staff connects as nobody.

    Goes inside AuthMiddlewareStack (it reads the user and session that stack provides); the
    consumer then refuses the connection as it refuses any anonymous visitor.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if (
            settings.MOODLINE_REQUIRE_2FA
            and scope.get("type") == "websocket"
            and not await database_sync_to_async(_session_verified)(scope)
        ):
            scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)


def _session_verified(scope: dict[str, Any]) -> bool:
    """True unless a signed-in user's session lacks a verified device of theirs."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return True
    session = scope.get("session")
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk


@never_cache
@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    """Ask for the current TOTP code; on success the session counts as verified."""
    form = OTPTokenForm(request.user, request, data=request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            otp_login(request, form.get_user().otp_device)
            audit_record(actor=request.user, action="auth.otp_verify", request=request)
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                target = "/"
            return redirect(target)
        audit_record(
            actor=request.user,
            action="auth.otp_verify",
            request=request,
            outcome=AuditEvent.Outcome.FAILURE,
        )
    return render(request, "clinic/otp_verify.html", {"form": form})
