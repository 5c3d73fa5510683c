"""The Django admin: every model, with the columns and filters an administrator needs.

Clinical content (notes, timelines) is shown read-only; audit events cannot be changed at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from clinic.models import (
    AnalysisJob,
    AuditEvent,
    CareTeamMembership,
    Consent,
    Organisation,
    Patient,
    Recording,
    StageResult,
    TherapySession,
    TimelineResult,
    User,
)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "organisation", "is_active", "is_staff", "last_login")
    list_filter = ("organisation", "groups", "is_active", "is_staff")
    readonly_fields = ("public_id",)
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Practice", {"fields": ("organisation", "public_id")}),
    )


class CareTeamInline(admin.TabularInline):
    model = CareTeamMembership
    fk_name = "patient"
    extra = 0
    fields = ("clinician", "added_by", "added_at")
    readonly_fields = ("added_by", "added_at")


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "organisation", "year_of_birth", "created_at")
    list_filter = ("organisation",)
    search_fields = ("pseudonym",)
    inlines = (CareTeamInline,)


@admin.register(CareTeamMembership)
class CareTeamMembershipAdmin(admin.ModelAdmin):
    list_display = ("patient", "clinician", "added_by", "added_at")
    list_filter = ("clinician",)
    search_fields = ("patient__pseudonym", "clinician__username")


@admin.register(TherapySession)
class TherapySessionAdmin(admin.ModelAdmin):
    list_display = ("patient", "clinician", "date", "created_at")
    list_filter = ("clinician", "date")
    search_fields = ("patient__pseudonym",)
    date_hierarchy = "date"
    # Psychotherapy notes are the clinician's; the admin does not show them.
    exclude = ("notes",)


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    list_display = ("id", "session", "status", "size_bytes", "duration_s", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "session__patient__pseudonym", "sha256")
    readonly_fields = (
        "file",
        "original_name",
        "content_type",
        "sha256",
        "size_bytes",
        "duration_s",
        "media_info",
        "uploaded_by",
        "created_at",
    )


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = (
        "patient",
        "modality",
        "form_version",
        "given_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("modality", "form_version")
    search_fields = ("patient__pseudonym",)


class StageResultInline(admin.TabularInline):
    model = StageResult
    extra = 0
    fields = ("stage", "duration_s", "output_path", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(AnalysisJob)
class AnalysisJobAdmin(admin.ModelAdmin):
    list_display = ("id", "recording", "status", "progress", "stage", "attempts", "created_at")
    list_filter = ("status", "error_code")
    search_fields = ("id", "recording__id", "worker")
    # State changes go through the services' compare-and-swap, never an edit form.
    readonly_fields = (
        "recording",
        "requested_by",
        "status",
        "progress",
        "stage",
        "error_code",
        "error_message",
        "attempts",
        "worker",
        "options",
        "cancel_requested_at",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
    )
    inlines = (StageResultInline,)


@admin.register(StageResult)
class StageResultAdmin(admin.ModelAdmin):
    list_display = ("stage", "job", "duration_s", "created_at")
    list_filter = ("stage",)
    readonly_fields = ("job", "stage", "output", "output_path", "duration_s", "created_at")


@admin.register(TimelineResult)
class TimelineResultAdmin(admin.ModelAdmin):
    list_display = ("id", "recording", "schema_version", "created_at")
    list_filter = ("schema_version",)
    readonly_fields = (
        "recording",
        "job",
        "schema_version",
        "document",
        "models_provenance",
        "created_at",
    )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_label", "action", "object_type", "object_id", "outcome", "ip")
    list_filter = ("action", "outcome", "object_type")
    search_fields = ("actor_label", "object_id", "patient_id")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
