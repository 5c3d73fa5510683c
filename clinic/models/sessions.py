"""Therapy sessions and their recordings."""

from __future__ import annotations

import uuid
from pathlib import PurePath
from typing import cast

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty

from clinic.models.fields import staff_reference
from clinic.models.patients import Patient


class TherapySession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sessions")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapy_sessions"
    )
    date = models.DateField()
    # The EHR's encounter this session belongs to, when an integration booked it.
    external_encounter_id = models.CharField(max_length=128, blank=True)
    # The clinician's own notes: psychotherapy notes, never part of an EHR export.
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "-created_at"]
        indexes = [
            models.Index(fields=["patient", "-date"], name="session_patient_date"),
            # the session list's order: its first page is read off the index, not sorted
            models.Index(fields=["-date", "-created_at"], name="session_newest_first"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "external_encounter_id"],
                condition=~models.Q(external_encounter_id=""),
                name="session_encounter_once_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} on {self.date.isoformat()}"


class _RecordingsStorage(LazyObject):
    """STORAGES["recordings"], looked up on first use and again after the setting changes.

    A FileField calls its storage callable once, when the model class is built; this proxy
    keeps the choice of storage with the settings (and with tests that override them).
    """

    def _setup(self) -> None:
        self._wrapped = storages["recordings"]


_recordings_storage = _RecordingsStorage()


@receiver(setting_changed)
def _forget_recordings_storage(*, setting: str, **_: object) -> None:
    if setting == "STORAGES":
        _recordings_storage._wrapped = empty  # type: ignore[assignment]


def recordings_storage() -> Storage:
    """The storage recordings live in (STORAGES["recordings"])."""
    return cast(Storage, _recordings_storage)


def recording_upload_to(instance: Recording, filename: str) -> str:
    # Ids only: a path must not carry the uploaded file's name, which can hold PHI.
    return f"{instance.session_id}/{instance.id}{PurePath(filename).suffix.lower()}"


class RecordingStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    ANALYSING = "analysing", "Analysing"
    ANALYSED = "analysed", "Analysed"
    FAILED = "failed", "Analysis failed"


class Recording(models.Model):
    Status = RecordingStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(TherapySession, on_delete=models.CASCADE, related_name="recordings")
    file = models.FileField(
        storage=recordings_storage, upload_to=recording_upload_to, max_length=500
    )
    original_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64)  # of the stored bytes, to detect tampering
    size_bytes = models.PositiveBigIntegerField()
    duration_s = models.FloatField(null=True, blank=True)  # known once the media is probed
    # Streams, codecs, frame rate, sample rate: what the analysis pipeline's probe reports.
    media_info = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    uploaded_by = staff_reference()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="recording_sha256_is_hex_digest",
            ),
            models.CheckConstraint(
                condition=models.Q(size_bytes__gt=0), name="recording_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_s__isnull=True) | models.Q(duration_s__gte=0),
                name="recording_duration_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=RecordingStatus.values),
                name="recording_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"Recording {self.id} of {self.session}"


class ResumableUpload(models.Model):
    """A recording arriving in pieces (files of several GB over an unreliable link).

    Each piece is stored encrypted as it arrives; once all `size_bytes` are in, the pieces are
    joined into a Recording and removed. Abandoned uploads are removed when they expire.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(
        TherapySession, on_delete=models.CASCADE, related_name="uploads_in_progress"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    received_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Upload {self.id} ({self.received_bytes} of {self.size_bytes} bytes)"

    @property
    def folder(self) -> str:
        """Where its pieces are, in the recordings storage."""
        return f"uploads/{self.id}"


class UploadPiece(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    upload = models.ForeignKey(ResumableUpload, on_delete=models.CASCADE, related_name="pieces")
    offset = models.BigIntegerField()
    size_bytes = models.BigIntegerField()
    name = models.CharField(max_length=255)  # in the recordings storage

    class Meta:
        ordering = ["upload", "offset"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "offset"], name="upload_piece_once"),
        ]

    def __str__(self) -> str:
        return f"{self.upload_id} @ {self.offset}"
