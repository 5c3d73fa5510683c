"""Webhooks: endpoints an integration registers, the events they are told of, and delivery.

An event becomes one WebhookDelivery per subscribed endpoint, written in the transaction of
the change it reports and sent once that commits (clinic.tasks_webhooks). Each attempt is
signed afresh (clinic.webhook_signature) and logged; a failure is retried after a delay that
doubles each time, up to WEBHOOK_MAX_ATTEMPTS. Payloads hold ids only: the receiver reads the
rest through the API with its own scopes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlsplit

import httpx
import orjson
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from clinic.audit import audit_record
from clinic.exceptions import WebhookUrlRefused
from clinic.models import (
    AnalysisJob,
    CareTeamMembership,
    Integration,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from clinic.scopes import WebhookEvent
from clinic.webhook_signature import signed_headers

Status = WebhookDelivery.Status
EXCERPT_CHARS = 500
USER_AGENT = "Moodline-Webhooks/1"
# A retry's message may arrive a moment before its time: close enough.
EARLY_BY = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class NewEndpoint:
    """A registered endpoint; `secret` is shown once, to whoever registered it."""

    endpoint: WebhookEndpoint
    secret: str


def webhook_url_check(url: str) -> None:
    """Refuse URLs a delivery must not reach: anything but https, and (unless allowed for a
    receiver on this host) loopback, private and link-local addresses, which would let an
    integration make the server probe its own network."""
    parts = urlsplit(url)
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_URLS
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise WebhookUrlRefused()
    if not parts.hostname or parts.username or parts.password:
        raise WebhookUrlRefused()
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except OSError:
        raise WebhookUrlRefused("The webhook URL's host name does not resolve.") from None
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            raise WebhookUrlRefused()


@transaction.atomic
def webhook_endpoint_register(
    *, integration: Integration, url: str, events: list[str], registered_by: User | None = None
) -> NewEndpoint:
    webhook_url_check(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(
        integration=integration,
        url=url,
        events=sorted({WebhookEvent(event).value for event in events}),
        secret=secret,
    )
    audit_record(
        actor=registered_by,
        action="webhook.register",
        obj=endpoint,
        details={"integration": str(integration.id), "events": endpoint.events},
    )
    return NewEndpoint(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_remove(*, endpoint: WebhookEndpoint, removed_by: User | None = None) -> None:
    WebhookEndpoint.objects.filter(id=endpoint.id).update(is_active=False)
    audit_record(actor=removed_by, action="webhook.remove", obj=endpoint)


def webhook_event_emit(
    *,
    event: WebhookEvent,
    organisation_id: uuid.UUID,
    patient_id: uuid.UUID,
    data: dict[str, str],
) -> list[WebhookDelivery]:
    """Queue `event` for every active endpoint that subscribed to it and whose integration
    may see the patient (its practice, and its care teams if it was confined to some).

    Call it inside the transaction that makes the change, before a purge deletes the care
    team it reads; the deliveries are sent only once that transaction commits.
    """
    confined = Integration.care_team_clinicians.through.objects.filter(
        integration_id=OuterRef("integration_id")
    )
    on_team = CareTeamMembership.objects.filter(
        patient_id=patient_id,
        clinician__confining_integrations=OuterRef("integration_id"),
    )
    endpoints = WebhookEndpoint.objects.filter(
        is_active=True,
        events__contains=[event.value],
        integration__is_active=True,
        integration__organisation_id=organisation_id,
    ).filter(Q(~Exists(confined)) | Q(Exists(on_team)))
    event_id = uuid.uuid4()
    now = timezone.now()
    payload = {
        "id": str(event_id),
        "type": event.value,
        "created_at": now.isoformat(),
        "data": {"patient": str(patient_id), **data},
    }
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=event_id,
                event=event.value,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(webhook_delivery_enqueue, delivery.id))
    return deliveries


def webhook_job_event_emit(*, job_id: uuid.UUID | str, event: WebhookEvent) -> None:
    """An analysis job's outcome, told to the integrations that may see its patient."""
    job = (
        AnalysisJob.objects.filter(id=job_id)
        .values(
            "recording_id",
            "recording__session_id",
            "recording__session__patient_id",
            "recording__session__patient__organisation_id",
            "error_code",
        )
        .first()
    )
    if job is None:
        return
    data = {
        "session": str(job["recording__session_id"]),
        "recording": str(job["recording_id"]),
        "job": str(job_id),
    }
    if event is WebhookEvent.ANALYSIS_FAILED:
        data["error_code"] = job["error_code"]
    webhook_event_emit(
        event=event,
        organisation_id=job["recording__session__patient__organisation_id"],
        patient_id=job["recording__session__patient_id"],
        data=data,
    )


def webhook_delivery_enqueue(delivery_id: uuid.UUID, countdown_s: float | None = None) -> None:
    # By name, so the web process needs no import of the task module.
    current_app.send_task(
        "clinic.tasks_webhooks.deliver_webhook",
        args=[str(delivery_id)],
        queue="housekeeping",
        countdown=countdown_s,
    )


def retry_delay_s(attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt: the base, doubled each time, capped."""
    return float(
        min(settings.WEBHOOK_RETRY_MAX_S, settings.WEBHOOK_RETRY_BASE_S * 2 ** (attempts - 1))
    )


Poster = Callable[[str, bytes, dict[str, str]], httpx.Response]


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # No redirects: a receiver that moved registers its new URL, which is checked.
    return httpx.post(
        url,
        content=body,
        headers={**headers, "User-Agent": USER_AGENT},
        timeout=settings.WEBHOOK_TIMEOUT_S,
        follow_redirects=False,
    )


def webhook_delivery_attempt(*, delivery_id: uuid.UUID | str, post: Poster = _post) -> float | None:
    """Make one attempt if the delivery is due; the seconds until the next one, or None when
    there is to be none (delivered, given up, not due, or another worker has it)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(id=delivery_id, status=Status.PENDING)
            .first()
        )
        if delivery is None:
            return None
        now = timezone.now()
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_BY:
            return None  # an early duplicate: the attempt that set this time scheduled its own
        endpoint = delivery.endpoint
        attempt = WebhookAttempt(delivery=delivery, at=now)
        accepted = False
        if not endpoint.is_active:
            attempt.error = "The endpoint was removed."
        else:
            body = orjson.dumps(delivery.payload)
            started = time.monotonic()
            try:
                webhook_url_check(endpoint.url)  # what the name resolves to may have changed
                answer = post(
                    endpoint.url, body, signed_headers(endpoint.secret, str(delivery.id), body)
                )
                attempt.status_code = answer.status_code
                attempt.response_excerpt = answer.text[:EXCERPT_CHARS]
                accepted = 200 <= answer.status_code < 300
            except (httpx.HTTPError, WebhookUrlRefused) as error:
                attempt.error = f"{type(error).__name__}: {error}"[:300]
            attempt.duration_ms = int((time.monotonic() - started) * 1000)
        attempt.save()
        delivery.attempts += 1
        if accepted:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                Status.DELIVERED,
                timezone.now(),
                None,
            )
            delay = None
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS or not endpoint.is_active:
            delivery.status, delivery.next_attempt_at, delay = Status.FAILED, None, None
        else:
            delay = retry_delay_s(delivery.attempts)
            delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
    return delay


@transaction.atomic
def webhook_delivery_replay(
    *, delivery: WebhookDelivery, replayed_by: User | None = None
) -> WebhookDelivery:
    """Send a delivered or failed event again, as a new delivery of the same event."""
    again = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event=delivery.event,
        payload=delivery.payload,
        next_attempt_at=timezone.now(),
    )
    audit_record(
        actor=replayed_by,
        action="webhook.replay",
        obj=again,
        details={"replay_of": str(delivery.id), "event": delivery.event},
    )
    transaction.on_commit(partial(webhook_delivery_enqueue, again.id))
    return again


def webhook_deliveries_due(*, at: dt.datetime | None = None) -> list[uuid.UUID]:
    """Pending deliveries a minute past due: their message was lost (a broker restart)."""
    cutoff = (at or timezone.now()) - dt.timedelta(minutes=1)
    due = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lt=cutoff)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:500]
    )
    for delivery_id in due:
        webhook_delivery_enqueue(delivery_id)
    return due
