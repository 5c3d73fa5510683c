"""Pages of the clinician UI. Each name has a row in the authorisation table."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="frontend/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.session_list, name="session-list"),
    path("sessions/new/", views.session_new, name="session-new"),
    path("sessions/<uuid:session_id>/", views.session_review, name="session-review"),
    path("patients/<uuid:patient_id>/", views.patient_page, name="patient-page"),
    path("recordings/<uuid:recording_id>/media", views.recording_media, name="recording-media"),
    path("recordings/<uuid:recording_id>/frame", views.recording_frame, name="recording-frame"),
]
