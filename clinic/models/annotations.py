"""Clinician annotations: notes pinned to a moment of a session's timeline.

They are psychotherapy-note-like (45 CFR §164.501): kept in their own table, readable only by the
care team through clinic.selectors, and never part of the FHIR export or any EHR-facing payload.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from clinic.models.sessions import TherapySession

ANNOTATION_MAX_CHARS = 4000


class Annotation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        TherapySession, on_delete=models.CASCADE, related_name="annotations"
    )
    # PROTECT: notes keep their author; a departing clinician is deactivated, not deleted.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    t_s = models.FloatField()  # seconds from the start of the recording the note is pinned to
    text = models.TextField(max_length=ANNOTATION_MAX_CHARS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["t_s", "created_at"]
        indexes = [models.Index(fields=["session", "t_s"], name="annotation_session_time")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(t_s__gte=0), name="annotation_time_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Note at {self.t_s:.1f} s of {self.session_id}"
