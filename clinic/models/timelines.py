"""The emotional-trajectory timeline a succeeded job produced."""

from __future__ import annotations

import uuid

from django.db import models

from clinic.models.jobs import AnalysisJob
from clinic.models.sessions import Recording
from clinic.storage import EncryptedJSONField


class TimelineResult(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="timelines")
    job = models.OneToOneField(AnalysisJob, on_delete=models.CASCADE, related_name="timeline")
    # The document's schema identifier, e.g. "moodline.timeline/1" (analysis/timeline.py).
    schema_version = models.CharField(max_length=64)
    document = EncryptedJSONField()  # encrypted at rest: it describes a person's emotions
    # The review chart's overview, worked out from `document` when the timeline is stored, so
    # that opening a session reads ~150 KB rather than the whole document (~1 MB an hour).
    # Empty for rows stored before it existed: filled on first read (clinic.services.timelines).
    overview = EncryptedJSONField(null=True, blank=True)
    # Every model that contributed: name, version, checksum, licence (ModelSpec.to_provenance).
    models_provenance = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"Timeline {self.schema_version} of {self.recording_id}"
