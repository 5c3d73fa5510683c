"""How an integration calls the API: its key (authentication), its scopes (permission) and its
rate limit (throttle). Staff accounts pass through the last two untouched: their roles and the
access checks (clinic.access) govern them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.core.cache import caches
from django.db.models import OuterRef
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from analysis.errors import ErrorCode
from clinic.models import IntegrationKey, User
from clinic.scopes import Scope
from clinic.services.integrations import integration_key_authenticate

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is half-built
    from rest_framework.views import APIView

CREDENTIAL_INVALID_MESSAGE = "This API key is not valid: it is unknown, expired or revoked."
NO_SCOPES_MESSAGE = "Integrations may not use this operation."
INTEGRATION_NEEDS_KEY_MESSAGE = "An integration signs in with its API key, not a staff token."


def scope_missing_message(scope: Scope) -> str:
    return f"This API key lacks the scope {scope.value}."


class IntegrationKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer mlk_<prefix>_<secret>`; `request.auth` is the IntegrationKey."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, IntegrationKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                CREDENTIAL_INVALID_MESSAGE, code=ErrorCode.CREDENTIAL_INVALID
            )
        key = integration_key_authenticate(header[1].decode("latin-1"))
        if key is None:
            raise exceptions.AuthenticationFailed(
                CREDENTIAL_INVALID_MESSAGE, code=ErrorCode.CREDENTIAL_INVALID
            )
        return key.integration.account, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class StaffTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, a member of staff's own token, as DRF reads it, with the
    account's roles read in the same query: every request asks for them (the access checks,
    the scope check), and a query of their own was one round trip in seven of a review read."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = (
            Token.objects.select_related("user")
            .annotate(
                role_names=ArraySubquery(
                    Group.objects.filter(user=OuterRef("user_id")).values("name")
                )
            )
            .filter(key=key)
            .first()
        )
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not found.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        found.user.role_names_known(found.role_names)
        return found.user, found


def caller(request: Request) -> User:
    """Who made an authenticated request: a member of staff, or an integration's account."""
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated has let only accounts through
    return user


def scoped(**by_method: Scope) -> Mapping[str, Scope]:
    """A view's `required_scopes`: `scoped(GET=Scope.PATIENTS_READ, POST=...)`."""
    return MappingProxyType(by_method)


def required_scope(view: APIView, method: str) -> Scope | None:
    scopes: Mapping[str, Scope] = getattr(view, "required_scopes", {})
    return scopes.get("GET" if method in ("HEAD", "OPTIONS") else method)


class ScopeRequired(permissions.BasePermission):
    """An integration's call needs the scope its view names for the method; a view that names
    none is closed to integrations."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        key = request.auth
        user = request.user
        if not isinstance(key, IntegrationKey):
            if isinstance(user, User) and user.is_integration:
                raise exceptions.PermissionDenied(INTEGRATION_NEEDS_KEY_MESSAGE)
            return True
        scope = required_scope(view, request.method or "GET")
        if scope is None:
            raise exceptions.PermissionDenied(NO_SCOPES_MESSAGE, code=ErrorCode.SCOPE_MISSING)
        if scope.value not in key.scopes:
            raise exceptions.PermissionDenied(
                scope_missing_message(scope), code=ErrorCode.SCOPE_MISSING
            )
        return True


class IntegrationRateThrottle(throttling.SimpleRateThrottle):
    """Each integration's own requests per minute, counted across every web process."""

    cache = caches["shared"]
    scope = "integration"

    def __init__(self) -> None:  # the rate is the integration's, known only per request
        self.rate: str | None = None
        self.history: list[float] = []

    def allow_request(self, request: Request, view: APIView) -> bool:
        key = request.auth
        if not isinstance(key, IntegrationKey):
            return True
        self.rate = f"{key.integration.requests_per_minute}/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        key = request.auth
        return (
            f"throttle:integration:{key.integration_id}"
            if isinstance(key, IntegrationKey)
            else None
        )
