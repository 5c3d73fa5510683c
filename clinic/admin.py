"""The Django admin: every model, with the columns and filters an administrator needs.

Clinical content (notes, timelines) is shown read-only; audit events cannot be changed at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.models import (
    AnalysisJob,
    Annotation,
    AuditEvent,
    CareTeamMembership,
    Consent,
    ConsentScope,
    LegalHold,
    Organisation,
    Patient,
    Recording,
    RetentionPolicy,
    StageResult,
    TherapySession,
    TimelineResult,
    User,
)
from clinic.selectors.consent import consent_state, patients_needing_consent_attention
from clinic.services.consent import consent_give, consent_revoke
from clinic.services.retention import legal_hold_place, legal_hold_release, retention_plan


class PracticeScopedAdmin(admin.ModelAdmin):
    """A practice administrator sees only their own practice's rows; operators see all."""

    practice_lookup = "organisation"  # the path from this model to its Organisation

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return rows
        organisation_id = getattr(user, "organisation_id", None)
        if organisation_id is None:
            return rows.none()
        return rows.filter(**{self.practice_lookup: organisation_id})


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(User)
class UserAdmin(PracticeScopedAdmin, DjangoUserAdmin):
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


class ConsentAttentionFilter(admin.SimpleListFilter):
    title = "consent needing attention"
    parameter_name = "consent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("missing", "Missing for a modality"),
            ("expiring", "Expiring within 30 days"),
            ("revoked", "Revoked"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("missing", "expiring", "revoked"):
            return patients_needing_consent_attention(queryset, str(self.value()), timezone.now())
        return queryset


def _consent_column(modality: ConsentScope) -> Any:
    @admin.display(description=f"{modality.value} consent")
    def column(patient: Patient) -> str:
        return consent_state(patient.consents.all(), modality, timezone.now())

    column.__name__ = f"consent_{modality.value}"
    return column


@admin.register(Patient)
class PatientAdmin(PracticeScopedAdmin):
    """With each modality's consent at a glance, and a filter for those needing attention."""

    list_display = (
        "pseudonym",
        "organisation",
        *(_consent_column(modality) for modality in ConsentScope),
        "created_at",
    )
    list_filter = (ConsentAttentionFilter, "organisation")
    search_fields = ("pseudonym",)
    inlines = (CareTeamInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("consents")


@admin.register(CareTeamMembership)
class CareTeamMembershipAdmin(PracticeScopedAdmin):
    practice_lookup = "patient__organisation"
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
        "stored_as",
        "original_name",
        "content_type",
        "sha256",
        "size_bytes",
        "duration_s",
        "media_info",
        "uploaded_by",
        "created_at",
    )
    exclude = ("file",)

    @admin.display(description="Stored as")
    def stored_as(self, recording: Recording) -> str:
        # Encrypted media has no URL; it is streamed to the care team through the media view.
        return str(recording.file.name) if recording.file else "(media purged)"


@admin.register(Consent)
class ConsentAdmin(PracticeScopedAdmin):
    """Consent is recorded here and withdrawn with the "Revoke" action, never edited."""

    practice_lookup = "patient__organisation"
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
    fields = (
        "patient",
        "modality",
        "form_version",
        "given_by",
        "given_at",
        "expires_at",
        "signed_form",
        "recorded_by",
        "revoked_at",
        "revoked_by",
    )
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("recorded_by", "revoked_at", "revoked_by")
        return self.fields

    def save_model(self, request: HttpRequest, obj: Consent, form: Any, change: bool) -> None:
        if change:
            return  # nothing of a recorded consent changes; revoking is an action
        saved = consent_give(
            patient=obj.patient,
            modality=obj.modality,  # type: ignore[arg-type]
            form_version=obj.form_version,
            given_by=obj.given_by,
            given_at=obj.given_at,
            expires_at=obj.expires_at,
            recorded_by=request.user if isinstance(request.user, User) else None,
            signed_form=form.cleaned_data.get("signed_form") or None,
        )
        obj.pk = saved.pk
        obj._state.adding = False

    @admin.action(description="Revoke the selected consents (derived results are deleted)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Consent]) -> None:
        actor = request.user if isinstance(request.user, User) else None
        revoked = [consent_revoke(consent=consent, revoked_by=actor) for consent in queryset]
        done = [report for report in revoked if report is not None]
        self.message_user(
            request,
            f"Revoked {len(done)} consent(s); deleted "
            f"{sum(report.deleted_timelines for report in done)} timeline(s) and "
            f"{sum(report.deleted_stage_results for report in done)} stage result(s).",
            messages.SUCCESS,
        )


@admin.register(Annotation)
class AnnotationAdmin(PracticeScopedAdmin):
    """Clinicians' notes are psychotherapy notes: the admin sees that they exist, not the text."""

    practice_lookup = "session__patient__organisation"
    list_display = ("session", "author", "t_s", "created_at")
    exclude = ("text",)
    readonly_fields = ("session", "author", "t_s", "created_at", "updated_at")


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(PracticeScopedAdmin):
    list_display = (
        "organisation",
        "recording_days_after_analysis",
        "results_years_after_last_session",
        "results_years_after_majority",
        "updated_at",
    )
    readonly_fields = ("updated_by", "updated_at")
    actions = ("preview_purge",)

    def save_model(
        self, request: HttpRequest, obj: RetentionPolicy, form: Any, change: bool
    ) -> None:
        obj.updated_by = request.user if isinstance(request.user, User) else None
        super().save_model(request, obj, form, change)

    @admin.action(description="Show what the next purge would delete (dry run)")
    def preview_purge(self, request: HttpRequest, queryset: QuerySet[RetentionPolicy]) -> None:
        plan = retention_plan()
        organisations = set(queryset.values_list("organisation_id", flat=True))
        patients = Patient.objects.filter(id__in=plan.patients, organisation_id__in=organisations)
        held = Patient.objects.filter(id__in=plan.held_patients, organisation_id__in=organisations)
        media = Recording.objects.filter(
            id__in=plan.recording_media, session__patient__organisation_id__in=organisations
        )
        self.message_user(
            request,
            f"The next purge would delete {patients.count()} patient record(s) "
            f"({', '.join(patients.values_list('pseudonym', flat=True)) or 'none'}) and the "
            f"media of {media.count()} recording(s); {held.count()} patient(s) are due but on "
            "legal hold.",
            messages.INFO,
        )


@admin.register(LegalHold)
class LegalHoldAdmin(PracticeScopedAdmin):
    """Holds are placed and released, never deleted: the history of a hold matters."""

    practice_lookup = "patient__organisation"
    list_display = ("__str__", "placed_at", "placed_by", "released_at")
    list_filter = ("released_at",)
    search_fields = ("patient__pseudonym", "reason")
    readonly_fields = ("placed_at", "placed_by", "released_at", "released_by")
    raw_id_fields = ("session",)
    actions = ("release",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return rows
        organisation_id = getattr(request.user, "organisation_id", None)
        if organisation_id is None:
            return rows.none()
        return rows.filter(
            Q(patient__organisation_id=organisation_id)
            | Q(session__patient__organisation_id=organisation_id)
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LegalHold, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # the reason may be corrected
            return
        saved = legal_hold_place(
            patient=obj.patient,
            session=obj.session,
            reason=obj.reason,
            placed_by=request.user if isinstance(request.user, User) else None,
        )
        obj.pk = saved.pk
        obj._state.adding = False

    @admin.action(description="Release the selected holds")
    def release(self, request: HttpRequest, queryset: QuerySet[LegalHold]) -> None:
        actor = request.user if isinstance(request.user, User) else None
        count = sum(legal_hold_release(hold=hold, released_by=actor) for hold in queryset)
        self.message_user(request, f"Released {count} hold(s).", messages.SUCCESS)


class StageResultInline(admin.TabularInline):
    model = StageResult
    extra = 0
    fields = ("stage", "duration_s", "output_path", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(AnalysisJob)
class AnalysisJobAdmin(PracticeScopedAdmin):
    practice_lookup = "recording__session__patient__organisation"
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
    list_select_related = ("job",)
    readonly_fields = ("job", "stage", "output", "output_path", "duration_s", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The list shows no output: decrypting every row's for it would be wasted (a detail
        # page still reads it, with one more query).
        return super().get_queryset(request).defer("output")


@admin.register(TimelineResult)
class TimelineResultAdmin(admin.ModelAdmin):
    list_display = ("id", "recording", "schema_version", "created_at")
    list_filter = ("schema_version",)
    list_select_related = ("recording__session__patient",)  # what a recording's name shows
    exclude = ("overview",)  # derived from the document, which is shown
    readonly_fields = (
        "recording",
        "job",
        "schema_version",
        "document",
        "models_provenance",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # A document is a megabyte an hour to decrypt and the list shows none of it (a detail
        # page still reads it, with one more query); the overview is never shown here.
        return super().get_queryset(request).defer("document", "overview")


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


from clinic import admin_integrations  # noqa: E402, F401  (registers the integrations admin)
