"""Writes: every change to the domain goes through a function here (`<entity>_<verb>`,
keyword-only arguments). Views, API, tasks and commands stay thin and call these."""

from clinic.services.analysis import analysis_request
from clinic.services.consent import consent_give, consent_revoke
from clinic.services.jobs import (
    job_cancel,
    job_claim,
    job_create,
    job_fail,
    job_progress,
    job_requeue,
    job_succeed,
    job_take_over,
    jobs_cancel_for_patient,
    stage_result_save,
)
from clinic.services.patients import care_team_add, care_team_remove, patient_create
from clinic.services.sessions import recording_create, session_create
from clinic.services.timelines import timeline_store

__all__ = [
    "analysis_request",
    "care_team_add",
    "care_team_remove",
    "consent_give",
    "consent_revoke",
    "job_cancel",
    "job_claim",
    "job_create",
    "job_fail",
    "job_progress",
    "job_requeue",
    "job_succeed",
    "job_take_over",
    "jobs_cancel_for_patient",
    "patient_create",
    "recording_create",
    "session_create",
    "stage_result_save",
    "timeline_store",
]
