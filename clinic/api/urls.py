"""Routes of the REST API, mounted at /api/; each name has a row in the authorisation table."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

from clinic.api import consent, resumable, views, webhooks
from clinic.api.schema import IntegrationKeyScheme  # noqa: F401  (registers it with the schema)

urlpatterns = [
    # The schema maps every operation: for signed-in users and integrations only, as docs/api.md
    # says, so an anonymous caller learns nothing of the API's surface.
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="api-schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", permission_classes=[IsAuthenticated]
        ),
        name="api-docs",
    ),
    path("v1/patients/", views.PatientList.as_view(), name="api-patient-list"),
    path(
        "v1/patients/<uuid:patient_id>/", views.PatientDetail.as_view(), name="api-patient-detail"
    ),
    path(
        "v1/patients/<uuid:patient_id>/fhir",
        views.PatientFhirExport.as_view(),
        name="api-patient-fhir",
    ),
    path("v1/sessions/", views.SessionList.as_view(), name="api-session-list"),
    path(
        "v1/sessions/<uuid:session_id>/", views.SessionDetail.as_view(), name="api-session-detail"
    ),
    path(
        "v1/sessions/<uuid:session_id>/recordings/",
        views.RecordingUpload.as_view(),
        name="api-recording-upload",
    ),
    path(
        "v1/sessions/<uuid:session_id>/uploads/",
        resumable.UploadStart.as_view(),
        name="api-upload-start",
    ),
    path("v1/uploads/<uuid:upload_id>", resumable.UploadDetail.as_view(), name="api-upload"),
    path(
        "v1/uploads/<uuid:upload_id>/complete",
        resumable.UploadComplete.as_view(),
        name="api-upload-complete",
    ),
    path(
        "v1/sessions/<uuid:session_id>/timeline/",
        views.SessionTimeline.as_view(),
        name="api-session-timeline",
    ),
    path(
        "v1/sessions/<uuid:session_id>/exports/<str:kind>",
        views.SessionExport.as_view(),
        name="api-session-export",
    ),
    path(
        "v1/sessions/<uuid:session_id>/fhir",
        views.SessionFhirExport.as_view(),
        name="api-session-fhir",
    ),
    path(
        "v1/sessions/<uuid:session_id>/annotations/",
        views.SessionAnnotations.as_view(),
        name="api-annotation-list",
    ),
    path(
        "v1/annotations/<uuid:annotation_id>/",
        views.AnnotationDetail.as_view(),
        name="api-annotation-detail",
    ),
    path(
        "v1/recordings/<uuid:recording_id>/",
        views.RecordingDetail.as_view(),
        name="api-recording-detail",
    ),
    path(
        "v1/recordings/<uuid:recording_id>/roles",
        views.RecordingRoles.as_view(),
        name="api-recording-roles",
    ),
    path(
        "v1/recordings/<uuid:recording_id>/analyse",
        views.RecordingAnalyse.as_view(),
        name="api-recording-analyse",
    ),
    path(
        "v1/patients/<uuid:patient_id>/consents/",
        consent.PatientConsents.as_view(),
        name="api-consent-list",
    ),
    path(
        "v1/consents/<uuid:consent_id>/revoke",
        consent.ConsentRevoke.as_view(),
        name="api-consent-revoke",
    ),
    path("v1/jobs/<uuid:job_id>/", views.JobDetail.as_view(), name="api-job-detail"),
    path("v1/jobs/<uuid:job_id>/cancel", views.JobCancel.as_view(), name="api-job-cancel"),
    path("v1/webhooks/", webhooks.WebhookEndpoints.as_view(), name="api-webhook-list"),
    path(
        "v1/webhooks/<uuid:endpoint_id>/",
        webhooks.WebhookEndpointDetail.as_view(),
        name="api-webhook-detail",
    ),
    path(
        "v1/webhooks/<uuid:endpoint_id>/deliveries/",
        webhooks.WebhookDeliveries.as_view(),
        name="api-webhook-deliveries",
    ),
]
