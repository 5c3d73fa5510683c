"""EHR integrations: who they are, their credentials, the identifiers they bring, the retried
writes they made and the webhooks they are sent."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from clinic.models.fields import staff_reference
from clinic.models.organisations import Organisation
from clinic.models.patients import Patient
from clinic.scopes import Scope, WebhookEvent
from clinic.storage import EncryptedJSONField


class Integration(models.Model):
    """An EHR (or other system) a practice lets call the API on its behalf."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="integrations"
    )
    name = models.CharField(max_length=120)
    # The account its calls run and are audited as: no password, no permissions of its own.
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration"
    )
    # When any are named, the integration sees only patients on whose care team one of these
    # clinicians is, and books sessions only with them.
    care_team_clinicians = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="confining_integrations"
    )
    requests_per_minute = models.PositiveIntegerField(default=600)
    is_active = models.BooleanField(default=True)
    created_by = staff_reference()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="integration_name_unique_in_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IntegrationKey(models.Model):
    """An API key: `mlk_<prefix>_<secret>`. Only its SHA-256 is kept; the prefix finds it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices))
    created_by = staff_reference()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["integration", "-created_at"]

    def __str__(self) -> str:
        return f"mlk_{self.prefix}_…"

    def is_live(self, at: Any = None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class ExternalPatientId(models.Model):
    """The EHR's identifier of a patient, kept as a keyed hash: it finds the pseudonymous
    patient again without the database disclosing the EHR's record number."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="external_ids")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    system = models.CharField(max_length=200)
    value_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "system", "value_digest"],
                name="external_patient_id_unique_in_org",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system} → {self.patient_id}"


class IdempotentRequest(models.Model):
    """A write sent with an `Idempotency-Key`, and the answer a retry of it gets again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None: in flight
    response = EncryptedJSONField(null=True, blank=True)
    # The answer names the patient: it goes with them when they are purged.
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_once"),
        ]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    events = ArrayField(models.CharField(max_length=32, choices=WebhookEvent.choices))
    # The signing secret, encrypted at rest (it must be read back to sign each delivery).
    secret = EncryptedJSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["integration", "created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint, tried until it is accepted or the attempts run out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField()  # the same for every endpoint told of one event
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    payload = models.JSONField()  # ids only, never PHI: the receiver reads the rest
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
