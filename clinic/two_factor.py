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

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp.forms import OTPTokenForm

from clinic.audit import audit_record
from clinic.models import AuditEvent

# Paths a signed-in but unverified user may still reach: verifying, leaving, health, assets.
EXEMPT_PATH_PREFIXES = ("/accounts/verify", "/logout", "/login", "/healthz", "/static/")
TWO_FACTOR_REQUIRED_CODE = "two_factor_required"


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
