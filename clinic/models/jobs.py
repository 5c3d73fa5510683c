"""Analysis jobs, their state machine, and the outputs of each pipeline stage.

    queued ──claim──> running ──succeed──> succeeded
      │                 │ ├──fail──> failed
      └──cancel──┐      │ └─requeue (worker lost)─> queued
                 └──────┴──cancel──> cancelled

Every transition is a compare-and-swap in clinic/services/jobs.py; the database refuses rows
that break the invariants below.
"""

from __future__ import annotations

import uuid

from django.db import models

from clinic.models.fields import staff_reference
from clinic.models.sessions import Recording
from clinic.storage import EncryptedJSONField


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL_JOB_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class AnalysisJob(models.Model):
    Status = JobStatus
    ACTIVE_STATUSES = ACTIVE_JOB_STATUSES
    FINAL_STATUSES = FINAL_JOB_STATUSES

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="jobs")
    requested_by = staff_reference()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent, 0-100
    stage = models.CharField(max_length=64, blank=True)  # the pipeline stage running now
    error_code = models.CharField(max_length=64, blank=True)  # analysis.errors.ErrorCode value
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)  # how many times a worker claimed it
    worker = models.CharField(max_length=200, blank=True)  # who holds it while running
    # Options the pipeline runs with (which modalities, which models), fixed at request time.
    options = models.JSONField(default=dict, blank=True)
    # A running job stops at its next stage boundary once this is set.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=100),
                name="job_progress_is_percent",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values),
                name="job_status_known",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status__in=FINAL_JOB_STATUSES, finished_at__isnull=False)
                    | (
                        ~models.Q(status__in=FINAL_JOB_STATUSES)
                        & models.Q(finished_at__isnull=True)
                    )
                ),
                name="job_finished_at_iff_final",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=JobStatus.RUNNING) | models.Q(started_at__isnull=False),
                name="job_running_has_started_at",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=JobStatus.FAILED) | ~models.Q(error_code=""),
                name="job_failed_has_error_code",
            ),
            models.UniqueConstraint(
                fields=["recording"],
                condition=models.Q(status__in=ACTIVE_JOB_STATUSES),
                name="one_active_job_per_recording",
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.id} ({self.status}, {self.progress}%)"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class StageResult(models.Model):
    """What one pipeline stage produced for one job, so a restarted job skips it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(AnalysisJob, on_delete=models.CASCADE, related_name="stage_results")
    stage = models.CharField(max_length=64)
    # Small outputs, stored inline and encrypted (a transcript is the patient's own words).
    output = EncryptedJSONField(null=True, blank=True)
    output_path = models.CharField(max_length=500, blank=True)  # large outputs, stored as files
    duration_s = models.FloatField(null=True, blank=True)  # how long the stage took
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["job", "stage"], name="stage_result_once_per_job"),
            models.CheckConstraint(
                condition=models.Q(output__isnull=False) | ~models.Q(output_path=""),
                name="stage_result_has_output",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stage} of job {self.job_id}"
