"""What an integration's credential may do: one scope per kind of operation.

A view names the scope each of its methods needs (`required_scopes`); an integration's call
is refused unless its credential holds that scope, and a view that names none is closed to
integrations altogether (clinicians' notes, the audit trail). Staff accounts are governed by
their roles instead (clinic.roles) and are not scoped.
"""

from __future__ import annotations

from django.db import models


class Scope(models.TextChoices):
    PATIENTS_READ = "patients:read", "Read patients"
    PATIENTS_WRITE = "patients:write", "Create and update patients by the EHR's identifier"
    SESSIONS_READ = "sessions:read", "Read sessions, recordings and analysis jobs"
    SESSIONS_WRITE = "sessions:write", "Book sessions"
    CONSENT_READ = "consent:read", "Read consents"
    CONSENT_WRITE = "consent:write", "Record and revoke consent"
    RECORDINGS_UPLOAD = "recordings:upload", "Upload recordings"
    ANALYSIS_WRITE = "analysis:write", "Start and cancel analyses"
    TIMELINES_READ = "timelines:read", "Read emotional-trajectory timelines"
    FHIR_READ = "fhir:read", "Export sessions as FHIR R4"
    WEBHOOKS_MANAGE = "webhooks:manage", "Register webhook endpoints and read their deliveries"


class WebhookEvent(models.TextChoices):
    ANALYSIS_SUCCEEDED = "analysis.succeeded", "Analysis succeeded"
    ANALYSIS_FAILED = "analysis.failed", "Analysis failed"
    CONSENT_REVOKED = "consent.revoked", "Consent revoked"
    PATIENT_PURGED = "patient.purged", "Patient's data purged"
    RECORDING_PURGED = "recording.purged", "Recording's media purged"
