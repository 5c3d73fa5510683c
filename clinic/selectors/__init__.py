"""Reads: querysets and answers the views, API and tasks need, named `<entity>_<question>`."""

from clinic.selectors.consent import (
    consent_active_modalities,
    consent_is_active,
    consent_missing,
)
from clinic.selectors.jobs import job_active_for_recording, job_is_cancelled, timeline_latest
from clinic.selectors.patients import (
    patient_records_visible_to,
    patients_visible_to,
    recordings_visible_to,
    sessions_visible_to,
)

__all__ = [
    "consent_active_modalities",
    "consent_is_active",
    "consent_missing",
    "job_active_for_recording",
    "job_is_cancelled",
    "patient_records_visible_to",
    "patients_visible_to",
    "recordings_visible_to",
    "sessions_visible_to",
    "timeline_latest",
]
