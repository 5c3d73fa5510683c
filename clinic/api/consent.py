"""Consent over the API: list a patient's consents, record one (with its signed form), revoke.

Who may: the patient's care team and their practice's administrators (clinic.access). Every
call is audited by the services it calls, or here for reads.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.errors import ErrorCode
from analysis.modality import LEGACY_NAMES
from clinic.access import access_consent, access_patient
from clinic.api.auth import scoped
from clinic.api.errors import ApiError
from clinic.api.idempotency import idempotent
from clinic.audit import audit_record
from clinic.models import Consent, ConsentScope, User
from clinic.scopes import Scope
from clinic.selectors.consent import consents_of_patient
from clinic.services.consent import consent_give, consent_revoke

CONSENT_ALREADY_REVOKED = ErrorCode.CONSENT_ALREADY_REVOKED
CONSENT_ALREADY_REVOKED_MESSAGE = "This consent was already revoked."


class ConsentSerializer(serializers.ModelSerializer[Consent]):
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    active = serializers.SerializerMethodField()
    has_signed_form = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = (
            "id",
            "patient",
            "modality",
            "form_version",
            "given_by",
            "given_at",
            "expires_at",
            "revoked_at",
            "active",
            "has_signed_form",
        )

    def get_active(self, consent: Consent) -> bool:
        return consent.is_active()

    def get_has_signed_form(self, consent: Consent) -> bool:
        return bool(consent.signed_form)


class ConsentScopeField(serializers.ChoiceField):
    """A consent scope; the names used before face/voice/text (video, audio, transcript) are
    still read, so an integration written against them keeps working."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=ConsentScope.choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        legacy = LEGACY_NAMES.get(data) if isinstance(data, str) else None
        value: str = super().to_internal_value(legacy.value if legacy else data)
        return value


class ConsentGiveSerializer(serializers.Serializer[dict[str, Any]]):
    modality = ConsentScopeField()
    form_version = serializers.CharField(max_length=32)
    given_by = serializers.CharField(max_length=120)
    given_at = serializers.DateTimeField(required=False)
    expires_at = serializers.DateTimeField(required=False)
    signed_form = serializers.FileField(required=False)


class ConsentRevokeSerializer(serializers.Serializer[dict[str, Any]]):
    # Also delete the patient's recordings: the patient's separate, explicit choice.
    delete_recordings = serializers.BooleanField(default=False)


def _staff(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class PatientConsents(APIView):
    parser_classes = (MultiPartParser, FormParser, JSONParser)
    required_scopes = scoped(GET=Scope.CONSENT_READ, POST=Scope.CONSENT_WRITE)

    @extend_schema(responses=ConsentSerializer(many=True))
    def get(self, request: Request, patient_id: str) -> Response:
        patient = access_patient(request.user, patient_id)
        audit_record(
            actor=_staff(request), action="consent.list", obj=patient, request=request._request
        )
        return Response(ConsentSerializer(consents_of_patient(patient=patient), many=True).data)

    @extend_schema(request=ConsentGiveSerializer, responses={201: ConsentSerializer})
    @idempotent(patient_of=lambda answer: answer["patient"])
    def post(self, request: Request, patient_id: str) -> Response:
        patient = access_patient(request.user, patient_id)
        incoming = ConsentGiveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        consent = consent_give(
            patient=patient, recorded_by=_staff(request), **incoming.validated_data
        )
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)


class ConsentRevoke(APIView):
    required_scopes = scoped(POST=Scope.CONSENT_WRITE)

    @extend_schema(request=ConsentRevokeSerializer, responses=ConsentSerializer)
    @idempotent(patient_of=lambda answer: answer["patient"])
    def post(self, request: Request, consent_id: str) -> Response:
        consent = access_consent(request.user, consent_id)
        incoming = ConsentRevokeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        report = consent_revoke(
            consent=consent,
            revoked_by=_staff(request),
            delete_recordings=incoming.validated_data["delete_recordings"],
        )
        if report is None:
            raise ApiError(
                CONSENT_ALREADY_REVOKED, CONSENT_ALREADY_REVOKED_MESSAGE, status_code=409
            )
        return Response(
            {
                **ConsentSerializer(consent).data,
                "cancelled_jobs": report.cancelled_job_ids,
                "deleted_stage_results": report.deleted_stage_results,
                "deleted_timelines": report.deleted_timelines,
                "deleted_recordings": report.deleted_recordings,
            }
        )
