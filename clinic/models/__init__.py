"""The domain model, one module per aggregate; import models from here."""

from clinic.models.annotations import Annotation
from clinic.models.audit import AuditEvent
from clinic.models.consent import Consent, ConsentScope
from clinic.models.integrations import (
    ExternalPatientId,
    IdempotentRequest,
    Integration,
    IntegrationKey,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from clinic.models.jobs import AnalysisJob, StageResult
from clinic.models.organisations import Organisation, User
from clinic.models.patients import CareTeamMembership, Patient
from clinic.models.retention import LegalHold, RetentionPolicy
from clinic.models.sessions import Recording, ResumableUpload, TherapySession, UploadPiece
from clinic.models.timelines import TimelineResult

__all__ = [
    "AnalysisJob",
    "Annotation",
    "AuditEvent",
    "CareTeamMembership",
    "Consent",
    "ConsentScope",
    "ExternalPatientId",
    "IdempotentRequest",
    "Integration",
    "IntegrationKey",
    "LegalHold",
    "Organisation",
    "Patient",
    "Recording",
    "ResumableUpload",
    "RetentionPolicy",
    "StageResult",
    "TherapySession",
    "TimelineResult",
    "UploadPiece",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
