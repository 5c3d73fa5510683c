"""What the API shows of each resource, and what it accepts. No logic: that is in services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.api.errors import RANGE_INVALID_MESSAGE
from clinic.models import AnalysisJob, Annotation, Patient, Recording, TherapySession
from clinic.models.annotations import ANNOTATION_MAX_CHARS
from clinic.selectors.jobs import recording_latest_job
from clinic.selectors.timelines import OVERVIEW_MAX_POINTS, OVERVIEW_MAX_POINTS_LIMIT
from clinic.services.roles import ROLES


class PatientSerializer(serializers.ModelSerializer[Patient]):
    class Meta:
        model = Patient
        fields: tuple[str, ...] = ("id", "pseudonym", "display_name", "year_of_birth", "created_at")


class JobSerializer(serializers.ModelSerializer[AnalysisJob]):
    recording = serializers.UUIDField(source="recording_id", read_only=True)

    class Meta:
        model = AnalysisJob
        fields = (
            "id",
            "recording",
            "status",
            "progress",
            "stage",
            "error_code",
            "error_message",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        )


@extend_schema_field(JobSerializer(allow_null=True))
class LatestJobField(serializers.Field):
    """A recording's newest job, or null. Its JobSerializer is built once with the field, not
    once per recording it represents."""

    def __init__(self) -> None:
        super().__init__(source="*", read_only=True)
        self.job = JobSerializer()

    def to_representation(self, value: Recording) -> dict[str, Any] | None:
        job = recording_latest_job(recording=value)
        return None if job is None else self.job.to_representation(job)


class RecordingSerializer(serializers.ModelSerializer[Recording]):
    session = serializers.UUIDField(source="session_id", read_only=True)
    latest_job = LatestJobField()

    class Meta:
        model = Recording
        fields = (
            "id",
            "session",
            "original_name",
            "content_type",
            "size_bytes",
            "sha256",
            "duration_s",
            "status",
            "created_at",
            "latest_job",
        )


class SessionSerializer(serializers.ModelSerializer[TherapySession]):
    """A session without the clinician's notes: those are read on the review page only."""

    patient = PatientSerializer(read_only=True)
    clinician = serializers.CharField(source="clinician.get_username", read_only=True)
    clinician_id = serializers.UUIDField(source="clinician.public_id", read_only=True)
    recordings = RecordingSerializer(many=True, read_only=True)

    class Meta:
        model = TherapySession
        fields = (
            "id",
            "date",
            "patient",
            "clinician",
            "clinician_id",
            "external_encounter_id",
            "recordings",
            "created_at",
        )


class PatientIdentifierSerializer(serializers.Serializer[None]):
    """The EHR's own identifier of the patient (FHIR `Identifier`: system and value)."""

    system = serializers.CharField(max_length=200, help_text="e.g. urn:oid:2.16.840.1.113883.4.1")
    value = serializers.CharField(max_length=200)


class PatientUpsertSerializer(serializers.Serializer[None]):
    identifier = PatientIdentifierSerializer()
    pseudonym = serializers.CharField(
        max_length=64,
        required=False,
        help_text="generated (P-XXXXXXXX) for a new patient if absent",
    )
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    year_of_birth = serializers.IntegerField(min_value=1900, max_value=2100, required=False)
    care_team = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=50,
        help_text="clinicians (their ids) added to the patient's care team; none is removed",
    )


class PatientUpsertedSerializer(PatientSerializer):
    created = serializers.BooleanField(read_only=True)

    class Meta(PatientSerializer.Meta):
        fields = (*PatientSerializer.Meta.fields, "created")


class SessionBookSerializer(serializers.Serializer[None]):
    patient = serializers.UUIDField()
    clinician = serializers.UUIDField(help_text="the clinician's id; on the patient's care team")
    date = serializers.DateField()
    external_encounter_id = serializers.CharField(
        max_length=128,
        required=False,
        default="",
        help_text="the EHR's encounter: booking it again updates that session",
    )


class PatientFilterSerializer(serializers.Serializer[None]):
    # CharField refuses NUL characters, which PostgreSQL cannot compare
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="pseudonym contains"
    )


class SessionFilterSerializer(serializers.Serializer[None]):
    patient = serializers.UUIDField(required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


class UploadSerializer(serializers.Serializer[None]):
    file = serializers.FileField(allow_empty_file=False)
    analyse = serializers.BooleanField(default=True)  # queue analysis straight away


class RoleAssignmentSerializer(serializers.Serializer[None]):
    """Roles by speaker id and by face track id, as the timeline names them."""

    speakers = serializers.DictField(
        child=serializers.ChoiceField(choices=ROLES), required=False, default=dict
    )
    face_tracks = serializers.DictField(
        child=serializers.ChoiceField(choices=ROLES), required=False, default=dict
    )


class TimelineQuerySerializer(serializers.Serializer[None]):
    start_s = serializers.FloatField(required=False, min_value=0)
    end_s = serializers.FloatField(required=False, min_value=0)
    max_points = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=OVERVIEW_MAX_POINTS_LIMIT,
        default=OVERVIEW_MAX_POINTS,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start_s, end_s = attrs.get("start_s"), attrs.get("end_s")
        if start_s is not None and end_s is not None and start_s > end_s:
            raise serializers.ValidationError({"end_s": [RANGE_INVALID_MESSAGE]})
        return attrs


class AnnotationSerializer(serializers.ModelSerializer[Annotation]):
    author = serializers.CharField(source="author.get_username", read_only=True)
    mine = serializers.SerializerMethodField()
    t_s = serializers.FloatField(min_value=0)
    text = serializers.CharField(max_length=ANNOTATION_MAX_CHARS)

    class Meta:
        model = Annotation
        fields = ("id", "t_s", "text", "author", "mine", "created_at", "updated_at")
        read_only_fields = ("id", "author", "mine", "created_at", "updated_at")

    def get_mine(self, annotation: Annotation) -> bool:
        request = self.context.get("request")
        return request is not None and annotation.author_id == request.user.pk
