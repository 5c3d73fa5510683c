"""How an integration calls the API: its key (authentication), its scopes (permission) and its
rate limit (throttle). Staff accounts pass through the last two untouched: their roles and the
access checks (clinic.access) govern them."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group
from django.core.cache import caches
from psycopg import sql
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from analysis.errors import ErrorCode
from clinic.models import IntegrationKey, User
from clinic.scopes import Scope
from clinic.services.integrations import integration_key_authenticate
from clinic.sql_names import column, table

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
    the scope check), and a query of their own was one round trip in seven of a review read.

    The query is written once (`_staff_token_sql`) rather than built by the ORM on each
    request: every API read starts here, and composing the join and the roles' subquery cost
    1.6 ms a request against 0.5 ms for the same SQL read as `User` rows.
    """

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = next(iter(User.objects.raw(_staff_token_sql(), [key])), None)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not found.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        read_with = found.__dict__  # the query's own columns, beside the account's
        found.role_names_known(read_with.pop("role_names"))
        token = Token(
            key=read_with.pop("token_key"), user=found, created=read_with.pop("token_created")
        )
        token._state.adding = False  # the stored token, not a new one
        return found, token


@functools.cache
def _staff_token_sql() -> str:
    """The account whose token is `%s`, with the token's key and creation and the names of
    the account's groups."""
    membership = User.groups.through
    query = sql.SQL(
        "SELECT {account}.*, {key} AS token_key, {created} AS token_created, "
        "ARRAY(SELECT {role_name} FROM {roles} JOIN {members} ON {member_role} = {role_id} "
        "WHERE {member_account} = {account_id}) AS role_names "
        "FROM {tokens} JOIN {accounts} ON {account_id} = {token_account} WHERE {key} = %s"
    ).format(
        account=sql.Identifier("account"),
        key=column("token", Token, "key"),
        created=column("token", Token, "created"),
        role_name=column("role", Group, "name"),
        roles=table(Group, "role"),
        members=table(membership, "member"),
        member_role=column("member", membership, "group"),
        role_id=column("role", Group, "id"),
        member_account=column("member", membership, "user"),
        account_id=column("account", User, "id"),
        tokens=table(Token, "token"),
        accounts=table(User, "account"),
        token_account=column("token", Token, "user"),
    )
    return query.as_string()


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
