"""Integrations and their API keys: register, issue, rotate, revoke, authenticate.

A key reads `mlk_<prefix>_<secret>`. The prefix (public, unique) finds the row; the secret is
checked against its SHA-256 in constant time. Keys carry 256 bits of randomness, so a fast
hash is enough: there is nothing to guess a dictionary from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from clinic.audit import audit_record
from clinic.exceptions import NotAClinician, TooManyLiveKeys
from clinic.models import Integration, IntegrationKey, Organisation, User
from clinic.roles import Role
from clinic.scopes import Scope

KEY_PREFIX = "mlk"
LIVE_KEYS_MAX = 2  # one in use and one rotating in
# A last-used time to the minute is all an administrator needs; writing it on every call
# would make each read a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `secret` is shown once, to whoever issued it, and never stored."""

    key: IntegrationKey
    secret: str


@transaction.atomic
def integration_create(
    *,
    organisation: Organisation,
    name: str,
    created_by: User | None = None,
    care_team_clinicians: list[User] | None = None,
    requests_per_minute: int = 600,
) -> Integration:
    account = User(
        username=f"integration-{secrets.token_hex(6)}",
        first_name=name[:150],
        organisation=organisation,
    )
    account.set_unusable_password()  # it signs in with keys only, never at the login page
    account.save()
    account.groups.add(Group.objects.get(name=str(Role.INTEGRATION)))
    integration = Integration.objects.create(
        organisation=organisation,
        name=name,
        account=account,
        requests_per_minute=requests_per_minute,
        created_by=created_by,
    )
    for clinician in care_team_clinicians or []:
        if not clinician.is_clinician or clinician.organisation_id != organisation.id:
            raise NotAClinician()
        integration.care_team_clinicians.add(clinician)
    audit_record(
        actor=created_by,
        action="integration.create",
        obj=integration,
        details={"name": name, "account": account.get_username()},
    )
    return integration


@transaction.atomic
def integration_key_issue(
    *,
    integration: Integration,
    scopes: list[Scope] | list[str],
    expires_at: dt.datetime | None = None,
    issued_by: User | None = None,
) -> IssuedKey:
    """A new live key. Refused while two are live: rotate by issuing one, switching the EHR
    over, then revoking the old one, with no moment when neither works."""
    Integration.objects.select_for_update().get(id=integration.id)  # one issue at a time
    now = timezone.now()
    live = [key for key in integration.keys.all() if key.is_live(now)]
    if len(live) >= LIVE_KEYS_MAX:
        raise TooManyLiveKeys()
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    full = f"{KEY_PREFIX}_{prefix}_{secret}"
    key = IntegrationKey.objects.create(
        integration=integration,
        prefix=prefix,
        secret_sha256=_digest(full),
        scopes=sorted({Scope(scope).value for scope in scopes}),
        expires_at=expires_at,
        created_by=issued_by,
    )
    audit_record(
        actor=issued_by,
        action="integration.key_issue",
        obj=key,
        details={"integration": str(integration.id), "prefix": prefix, "scopes": key.scopes},
    )
    return IssuedKey(key=key, secret=full)


@transaction.atomic
def integration_key_revoke(*, key: IntegrationKey, revoked_by: User | None = None) -> bool:
    revoked = IntegrationKey.objects.filter(id=key.id, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_record(
            actor=revoked_by,
            action="integration.key_revoke",
            obj=key,
            details={"integration": str(key.integration_id), "prefix": key.prefix},
        )
    return bool(revoked)


def integration_key_authenticate(presented: str) -> IntegrationKey | None:
    """The live key `presented` is, with its integration and account; None for anything else
    (malformed, unknown, wrong secret, expired, revoked, integration or account switched off)."""
    parts = presented.split("_", 2)  # the secret itself may hold underscores
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = (
        IntegrationKey.objects.select_related("integration__account")
        .filter(prefix=parts[1])
        .first()
    )
    if key is None or not hmac.compare_digest(key.secret_sha256, _digest(presented)):
        return None
    now = timezone.now()
    integration = key.integration
    if not (key.is_live(now) and integration.is_active and integration.account.is_active):
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        IntegrationKey.objects.filter(id=key.id).update(last_used_at=now)
        key.last_used_at = now
    return key


def _digest(full_key: str) -> str:
    return hashlib.sha256(full_key.encode("utf-8")).hexdigest()
