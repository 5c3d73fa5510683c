from django.contrib import admin
from django.urls import include, path

from clinic import two_factor, views
from clinic.views import auditor

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/verify/", two_factor.otp_verify, name="otp-verify"),
    path("audit/", auditor.audit_log, name="audit-log"),
    path("audit/export.csv", auditor.audit_export, name="audit-export"),
    path("api/", include("clinic.api.urls")),
    path("", include("frontend.urls")),
]

handler404 = "clinic.views.errors.not_found"
handler500 = "clinic.views.errors.server_error"
