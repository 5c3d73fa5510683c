"""The admin of a practice's integrations: register one, issue and revoke its keys, see its
webhook endpoints and deliveries, and replay a delivery."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from clinic.admin import PracticeScopedAdmin
from clinic.models import (
    ExternalPatientId,
    IdempotentRequest,
    Integration,
    IntegrationKey,
    ResumableUpload,
    UploadPiece,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from clinic.scopes import Scope
from clinic.services.integrations import (
    integration_create,
    integration_key_issue,
    integration_key_revoke,
)
from clinic.services.webhooks import webhook_delivery_replay


def _actor(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class IntegrationKeyInline(admin.TabularInline):
    model = IntegrationKey
    fields = ("prefix", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Integration)
class IntegrationAdmin(PracticeScopedAdmin):
    list_display = ("name", "organisation", "is_active", "requests_per_minute", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    fields = ("organisation", "name", "care_team_clinicians", "requests_per_minute", "is_active")
    filter_horizontal = ("care_team_clinicians",)
    inlines = (IntegrationKeyInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organisation",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = integration_create(
            organisation=obj.organisation,
            name=obj.name,
            created_by=_actor(request),
            requests_per_minute=obj.requests_per_minute,
        )
        obj.pk, obj.account_id = saved.pk, saved.account_id
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switched off instead: its audit trail names it


class IssueKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = IntegrationKey
        fields = ("integration", "scopes", "expires_at")


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(PracticeScopedAdmin):
    """Adding a key issues it: its secret is shown once, on the next page, never again."""

    practice_lookup = "integration__organisation"
    form = IssueKeyForm
    list_display = (
        "__str__",
        "integration",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("revoked_at",)
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return (
            "integration",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("integration", "scopes", "expires_at")
        return self.get_readonly_fields(request, obj)

    def save_model(
        self, request: HttpRequest, obj: IntegrationKey, form: Any, change: bool
    ) -> None:
        if change:
            return  # a key is never edited: revoke it and issue another
        issued = integration_key_issue(
            integration=obj.integration,
            scopes=form.cleaned_data["scopes"],
            expires_at=obj.expires_at,
            issued_by=_actor(request),
        )
        obj.pk = issued.key.pk
        obj._state.adding = False
        self.message_user(
            request,
            f"The new key is {issued.secret} — copy it now: it is not shown again.",
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[IntegrationKey]) -> None:
        count = sum(integration_key_revoke(key=key, revoked_by=_actor(request)) for key in queryset)
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(PracticeScopedAdmin):
    practice_lookup = "integration__organisation"
    list_display = ("url", "integration", "events", "is_active", "created_at")
    list_filter = ("is_active",)
    fields = ("integration", "url", "events", "is_active", "created_at")
    readonly_fields = ("integration", "url", "events", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the integration registers its own, and keeps the secret it is given

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("at", "status_code", "response_excerpt", "error", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PracticeScopedAdmin):
    practice_lookup = "endpoint__integration__organisation"
    list_display = ("event", "endpoint", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "event")
    readonly_fields = (
        "endpoint",
        "event_id",
        "event",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    )
    inlines = (WebhookAttemptInline,)
    actions = ("replay",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected deliveries again")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhook_delivery_replay(delivery=delivery, replayed_by=_actor(request))
        self.message_user(request, f"Queued {queryset.count()} delivery(ies) again.")


class ReadOnlyAdmin(PracticeScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    practice_lookup = "delivery__endpoint__integration__organisation"
    list_display = ("at", "delivery", "status_code", "error", "duration_ms")


@admin.register(ExternalPatientId)
class ExternalPatientIdAdmin(ReadOnlyAdmin):
    """Which patients an EHR's identifiers name; the identifiers themselves are not kept."""

    list_display = ("patient", "system", "created_at")
    search_fields = ("patient__pseudonym",)
    fields = ("patient", "system", "created_at")


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(ReadOnlyAdmin):
    """Writes retried with an Idempotency-Key (their answers are not shown)."""

    practice_lookup = "caller__organisation"
    list_display = ("key", "caller", "status_code", "created_at")
    fields = ("key", "caller", "status_code", "created_at")


@admin.register(ResumableUpload)
class ResumableUploadAdmin(ReadOnlyAdmin):
    """Recordings arriving in pieces; unfinished ones are removed when they expire."""

    practice_lookup = "session__patient__organisation"
    list_display = ("id", "session", "created_by", "received_bytes", "size_bytes", "expires_at")
    fields = list_display


@admin.register(UploadPiece)
class UploadPieceAdmin(ReadOnlyAdmin):
    practice_lookup = "upload__session__patient__organisation"
    list_display = ("upload", "offset", "size_bytes")
    fields = list_display
