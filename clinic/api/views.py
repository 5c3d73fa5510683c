"""API views: parse the request, check access (clinic.access), call a service or selector,
audit the PHI read, serialize. Nothing else happens here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.errors import ErrorCode
from clinic.access import (
    access_annotation,
    access_job,
    access_patient,
    access_patient_record,
    access_recording,
    access_session,
    access_session_timeline,
)
from clinic.api.auth import scoped
from clinic.api.errors import (
    NO_TIMELINE,
    NO_TIMELINE_MESSAGE,
    ApiError,
)
from clinic.api.idempotency import idempotent
from clinic.api.pagination import ByPseudonym, NewestFirst
from clinic.api.renderers import FastJSONRenderer, json_object_with
from clinic.api.serializers import (
    AnnotationSerializer,
    JobSerializer,
    PatientFilterSerializer,
    PatientSerializer,
    PatientUpsertedSerializer,
    PatientUpsertSerializer,
    RecordingSerializer,
    RoleAssignmentSerializer,
    SessionBookSerializer,
    SessionFilterSerializer,
    SessionSerializer,
    TimelineQuerySerializer,
    UploadSerializer,
)
from clinic.api.session_rows import session_rows, session_rows_of
from clinic.api.uploads import RefusedUpload, upload_media
from clinic.audit import audit_record
from clinic.exceptions import DomainError
from clinic.exports import EXPORT_KINDS, SummaryHeading, session_export
from clinic.fhir import FHIR_CONTENT_TYPE, patient_fhir_bundle, session_fhir_bundle
from clinic.models import Patient, Recording, TherapySession, TimelineResult, User
from clinic.scopes import Scope
from clinic.selectors import patients_visible_to, sessions_visible_to
from clinic.selectors.timeline_documents import timeline_document
from clinic.selectors.timeline_ranges import timeline_range
from clinic.selectors.timelines import (
    OVERVIEW_MAX_POINTS,
    TimelineRange,
    timeline_for_session,
    timeline_view,
)
from clinic.services import analysis_request, job_cancel, recording_create
from clinic.services.annotations import (
    annotation_create,
    annotation_delete,
    annotation_update,
    annotations_of_session,
)
from clinic.services.ehr import PatientDetails, clinician_of_practice, patient_upsert, session_book
from clinic.services.roles import RoleAssignment, roles_reassign
from clinic.services.timelines import timeline_overview, timeline_overview_encoded

PATIENT_NOT_FOUND_MESSAGE = "No patient with this id is yours to see."
JOB_NOT_ACTIVE = ErrorCode.JOB_NOT_ACTIVE
JOB_NOT_ACTIVE_MESSAGE = "This job has already finished or was cancelled."


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # IsAuthenticated has let only staff accounts through
    return user


def _http(request: Request) -> HttpRequest:
    return request._request


class PatientList(generics.ListAPIView[Patient]):
    """Patients the caller may see (`?q=` filters by pseudonym); POST creates or updates a
    patient by the EHR's identifier."""

    serializer_class = PatientSerializer
    pagination_class = ByPseudonym
    parser_classes = (JSONParser,)
    required_scopes = scoped(GET=Scope.PATIENTS_READ, POST=Scope.PATIENTS_WRITE)

    @extend_schema(parameters=[PatientFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        audit_record(actor=_user(request), action="patient.list", request=_http(request))
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Patient]:
        filters = PatientFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        patients = patients_visible_to(self.request.user)
        query = filters.validated_data.get("q", "").strip()
        return patients.filter(pseudonym__icontains=query) if query else patients

    @extend_schema(
        request=PatientUpsertSerializer,
        responses={200: PatientUpsertedSerializer, 201: PatientUpsertedSerializer},
        description="Create the patient the EHR's identifier names, or update it: 201 when "
        "created, 200 when it existed. The identifier is kept only as a keyed hash.",
    )
    @idempotent(patient_of=lambda answer: answer["id"])
    def post(self, request: Request) -> Response:
        incoming = PatientUpsertSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        user = _user(request)
        organisation = user.organisation
        if organisation is None:  # a platform operator belongs to no practice
            raise ApiError(
                ErrorCode.PERMISSION_DENIED,
                "Only a practice's staff or integrations may create patients.",
                status_code=403,
            )
        care_team = tuple(
            clinician_of_practice(organisation, public_id)
            for public_id in data.get("care_team", [])
        )
        patient, created = patient_upsert(
            organisation=organisation,
            system=data["identifier"]["system"],
            value=data["identifier"]["value"],
            details=PatientDetails(
                pseudonym=data.get("pseudonym"),
                display_name=data.get("display_name"),
                year_of_birth=data.get("year_of_birth"),
                care_team=care_team,
            ),
            acted_by=user,
            visible=patients_visible_to(user),
        )
        return Response(
            {**PatientSerializer(patient).data, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PatientDetail(APIView):
    required_scopes = scoped(GET=Scope.PATIENTS_READ)

    @extend_schema(responses=PatientSerializer)
    def get(self, request: Request, patient_id: str) -> Response:
        patient = access_patient(request.user, patient_id)
        audit_record(
            actor=_user(request), action="patient.view", obj=patient, request=_http(request)
        )
        return Response(PatientSerializer(patient).data)


class SessionList(generics.ListAPIView[TherapySession]):
    """Sessions the caller may see, newest first; filter by patient and date range. POST books
    a session (for the EHR's encounter, if given)."""

    serializer_class = SessionSerializer
    pagination_class = NewestFirst
    parser_classes = (JSONParser,)
    required_scopes = scoped(GET=Scope.SESSIONS_READ, POST=Scope.SESSIONS_WRITE)

    @extend_schema(parameters=[SessionFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        audit_record(actor=_user(request), action="session.list", request=_http(request))
        # Rows, not model instances: SessionSerializer's output without building them.
        page = self.paginate_queryset(session_rows_of(self.get_queryset()))
        assert page is not None  # the view always paginates
        return self.get_paginated_response(session_rows(page))

    def get_queryset(self) -> QuerySet[TherapySession]:
        filters = SessionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        sessions = sessions_visible_to(self.request.user)
        if "patient" in filters.validated_data:
            sessions = sessions.filter(patient_id=filters.validated_data["patient"])
        if "date_from" in filters.validated_data:
            sessions = sessions.filter(date__gte=filters.validated_data["date_from"])
        if "date_to" in filters.validated_data:
            sessions = sessions.filter(date__lte=filters.validated_data["date_to"])
        return sessions.order_by("-date", "-created_at")

    @extend_schema(
        request=SessionBookSerializer,
        responses={200: SessionSerializer, 201: SessionSerializer},
        description="Book a session: 201 when new, 200 when its external_encounter_id was "
        "booked before (that session, moved to the given date and clinician).",
    )
    @idempotent(patient_of=lambda answer: answer["patient"]["id"])
    def post(self, request: Request) -> Response:
        incoming = SessionBookSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            patient = access_patient(request.user, data["patient"])
        except Http404:
            raise ValidationError({"patient": [PATIENT_NOT_FOUND_MESSAGE]}) from None
        session, created = session_book(
            patient=patient,
            clinician=clinician_of_practice(patient.organisation_id, data["clinician"]),
            date=data["date"],
            external_encounter_id=data["external_encounter_id"],
            booked_by=_user(request),
        )
        return Response(
            SessionSerializer(session).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class SessionDetail(APIView):
    required_scopes = scoped(GET=Scope.SESSIONS_READ)

    @extend_schema(responses=SessionSerializer)
    def get(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id)
        audit_record(
            actor=_user(request), action="session.view", obj=session, request=_http(request)
        )
        return Response(SessionSerializer(session).data)


class RecordingUpload(APIView):
    """Upload a recording (multipart field `file`) and, by default, queue its analysis."""

    parser_classes = (MultiPartParser, FormParser)
    required_scopes = scoped(POST=Scope.RECORDINGS_UPLOAD)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: RecordingSerializer},
    )
    @idempotent()
    def post(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id)
        upload = UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        body = recording_from_upload(
            session=session,
            file=upload.validated_data["file"],
            user=_user(request),
            analyse=upload.validated_data["analyse"],
        )
        return Response(body, status=status.HTTP_201_CREATED)


def recording_from_upload(
    *, session: TherapySession, file: UploadedFile, user: User, analyse: bool
) -> dict[str, Any]:
    """Store `file` as the session's recording once the demuxer accepts it, queue its analysis
    if asked; the answer's body. A refused analysis keeps the recording and says why."""
    try:
        media = upload_media(file)
    except RefusedUpload as refused:
        raise ApiError(refused.code, refused.message, fields={"file": [refused.message]}) from None
    recording = recording_create(
        session=session, file=file, uploaded_by=user, content_type=media.media_type
    )
    body = dict(RecordingSerializer(recording).data)
    body["analysis_error"] = None
    if analyse:
        try:
            job = analysis_request(recording=recording, requested_by=user)
            body["latest_job"] = JobSerializer(job).data
        except DomainError as error:  # the recording is kept; analysis can be asked again
            body["analysis_error"] = {"code": error.code, "message": error.message}
    return body


class RecordingDetail(APIView):
    required_scopes = scoped(GET=Scope.SESSIONS_READ)

    @extend_schema(responses=RecordingSerializer)
    def get(self, request: Request, recording_id: str) -> Response:
        recording = access_recording(request.user, recording_id)
        audit_record(
            actor=_user(request), action="recording.view", obj=recording, request=_http(request)
        )
        return Response(RecordingSerializer(recording).data)


class RecordingAnalyse(APIView):
    """Queue (re-)analysis of a recording; 409 while one is queued or running."""

    required_scopes = scoped(POST=Scope.ANALYSIS_WRITE)

    @extend_schema(request=None, responses={202: JobSerializer})
    @idempotent()
    def post(self, request: Request, recording_id: str) -> Response:
        recording = access_recording(request.user, recording_id)
        job = analysis_request(recording=recording, requested_by=_user(request))
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class RecordingRoles(APIView):
    """Set who is who (client, clinician or unknown) for the recording's speakers and face
    tracks; fusion runs again with them, reusing every other stage. 202 with the job."""

    required_scopes = scoped(POST=Scope.ANALYSIS_WRITE)

    @extend_schema(request=RoleAssignmentSerializer, responses={202: JobSerializer})
    @idempotent()
    def post(self, request: Request, recording_id: str) -> Response:
        recording = access_recording(request.user, recording_id)
        given = RoleAssignmentSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        job = roles_reassign(
            recording=recording,
            assignment=RoleAssignment(
                speakers=given.validated_data["speakers"],
                face_tracks=given.validated_data["face_tracks"],
            ),
            requested_by=_user(request),
        )
        audit_record(
            actor=_user(request),
            action="recording.roles_set",
            obj=recording,
            request=_http(request),
            details={"job": str(job.id), "roles": job.options.get("role_overrides", [])},
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetail(APIView):
    required_scopes = scoped(GET=Scope.SESSIONS_READ)

    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        job = access_job(request.user, job_id)
        return Response(JobSerializer(job).data)


class JobCancel(APIView):
    required_scopes = scoped(POST=Scope.ANALYSIS_WRITE)

    @extend_schema(request=None, responses={200: JobSerializer})
    @idempotent()
    def post(self, request: Request, job_id: str) -> Response:
        job = access_job(request.user, job_id)
        if not job_cancel(job_id=job.id, cancelled_by=_user(request)):
            raise ApiError(JOB_NOT_ACTIVE, JOB_NOT_ACTIVE_MESSAGE, status_code=409)
        job.refresh_from_db()
        return Response(JobSerializer(job).data)


class SessionTimeline(APIView):
    """The session's timeline: the whole session downsampled, or `?start_s=&end_s=` in detail."""

    required_scopes = scoped(GET=Scope.TIMELINES_READ)

    @extend_schema(parameters=[TimelineQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, session_id: str) -> Response:
        timeline = access_session_timeline(request.user, session_id)
        query = TimelineQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if timeline is None:
            raise ApiError(NO_TIMELINE, NO_TIMELINE_MESSAGE, status_code=404)
        span = TimelineRange(query.validated_data.get("start_s"), query.validated_data.get("end_s"))
        view = _timeline_view(timeline, span, query.validated_data["max_points"])
        if view is None:  # deleted since it was found (consent revoked this very moment)
            raise ApiError(NO_TIMELINE, NO_TIMELINE_MESSAGE, status_code=404)
        audit_record(
            actor=_user(request),
            action="timeline.view",
            obj=timeline.recording,
            request=_http(request),
            details={"timeline": str(timeline.id), "start_s": span.start_s, "end_s": span.end_s},
        )
        which = {
            "session": str(timeline.recording.session_id),
            "recording": str(timeline.recording_id),
            "job": str(timeline.job_id),
            "created_at": timeline.created_at.isoformat(),
        }
        if isinstance(view, bytes):
            return Response(json_object_with(view, which))
        return Response({**view, **which})


def _timeline_view(
    timeline: TimelineResult, span: TimelineRange, max_points: int
) -> dict[str, Any] | bytes | None:
    # The overview the review page opens with is stored, and served as the JSON it is kept as;
    # a range reads the items it overlaps; only the whole session at another resolution
    # decodes the document.
    if span.is_whole and max_points == OVERVIEW_MAX_POINTS:
        return timeline_overview_encoded(timeline=timeline)
    if not span.is_whole:
        return timeline_range(timeline=timeline, span=span)
    document = timeline_document(timeline=timeline)
    if document is None:
        return None
    return timeline_view(document=document, span=span, max_points=max_points)


class FhirJSONRenderer(FastJSONRenderer):
    media_type = FHIR_CONTENT_TYPE
    format = "fhir"


class SessionFhirExport(APIView):
    """The session as a FHIR R4 Bundle (type collection). Clinician notes are never included."""

    renderer_classes = (FhirJSONRenderer, FastJSONRenderer)
    required_scopes = scoped(GET=Scope.FHIR_READ)

    @extend_schema(responses={(200, FHIR_CONTENT_TYPE): OpenApiTypes.OBJECT})
    def get(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id)
        bundle = session_fhir_bundle(session=session, recording_url=_media_url(request))
        return _fhir_answer(request, bundle, action="session.export_fhir", obj=session)


class SessionExport(APIView):
    """The session's timeline as `timeline.csv`, `timeline.json`, `transcript.vtt` or a
    printable `summary.pdf`. Notes are never exported; every export is audited."""

    required_scopes = scoped(GET=Scope.TIMELINES_READ)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/vtt"): OpenApiTypes.BINARY,
            (200, "application/pdf"): OpenApiTypes.BINARY,
        }
    )
    def get(self, request: Request, session_id: str, kind: str) -> HttpResponse:
        if kind not in EXPORT_KINDS:
            raise ApiError(
                ErrorCode.NOT_FOUND,
                f"There is no {kind!r} export; there are {', '.join(EXPORT_KINDS)}.",
                status_code=404,
            )
        timeline = access_session_timeline(request.user, session_id)
        document = timeline_document(timeline=timeline) if timeline is not None else None
        if timeline is None or document is None:
            raise ApiError(NO_TIMELINE, NO_TIMELINE_MESSAGE, status_code=404)
        session = timeline.recording.session
        heading = SummaryHeading(
            patient=session.patient.pseudonym,
            session_date=session.date.isoformat(),
            clinician=session.clinician.get_full_name() or session.clinician.get_username(),
        )
        export = session_export(kind, document, heading)
        audit_record(
            actor=_user(request),
            action="session.export",
            obj=session,
            request=_http(request),
            details={"format": kind, "timeline": str(timeline.id), "bytes": len(export.content)},
        )
        response = HttpResponse(export.content, content_type=export.content_type)
        name = f"moodline-{session.patient.pseudonym}-{session.date.isoformat()}-{kind}"
        response["Content-Disposition"] = f'attachment; filename="{_safe_file_name(name)}"'
        response["Cache-Control"] = "private, no-store"
        return response


def _safe_file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


class PatientFhirExport(APIView):
    """Every session of the patient as one FHIR R4 Bundle, in the manner of `$everything`:
    each resource once. Clinician notes are never included."""

    renderer_classes = (FhirJSONRenderer, FastJSONRenderer)
    required_scopes = scoped(GET=Scope.FHIR_READ)

    @extend_schema(responses={(200, FHIR_CONTENT_TYPE): OpenApiTypes.OBJECT})
    def get(self, request: Request, patient_id: str) -> Response:
        patient = access_patient_record(request.user, patient_id)
        bundle = patient_fhir_bundle(patient=patient, recording_url=_media_url(request))
        return _fhir_answer(request, bundle, action="patient.export_fhir", obj=patient)


def _media_url(request: Request) -> Callable[[Recording], str]:
    """Where the bundle's Media says an authorised reader can fetch each recording."""
    return lambda recording: request.build_absolute_uri(
        reverse("recording-media", args=[recording.id])
    )


def _fhir_answer(request: Request, bundle: dict[str, Any], *, action: str, obj: Model) -> Response:
    audit_record(
        actor=_user(request),
        action=action,
        obj=obj,
        request=_http(request),
        details={"resources": len(bundle.get("entry", []))},
    )
    return Response(bundle, content_type=FHIR_CONTENT_TYPE)


class SessionAnnotations(APIView):
    """Notes pinned to times of the session (care team only; never exported)."""

    parser_classes = (JSONParser, FormParser)

    @extend_schema(responses=AnnotationSerializer(many=True))
    def get(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id)
        notes = annotations_of_session(session=session)
        audit_record(
            actor=_user(request), action="annotation.list", obj=session, request=_http(request)
        )
        return Response(AnnotationSerializer(notes, many=True, context={"request": request}).data)

    @extend_schema(request=AnnotationSerializer, responses={201: AnnotationSerializer})
    @idempotent(patient_of=lambda answer: None)
    def post(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id)
        incoming = AnnotationSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        note = annotation_create(
            session=session,
            author=_user(request),
            t_s=incoming.validated_data["t_s"],
            text=incoming.validated_data["text"],
            duration_s=_duration_s(session),
        )
        return Response(
            AnnotationSerializer(note, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class AnnotationDetail(APIView):
    parser_classes = (JSONParser, FormParser)

    @extend_schema(request=AnnotationSerializer, responses=AnnotationSerializer)
    def patch(self, request: Request, annotation_id: str) -> Response:
        note = access_annotation(request.user, annotation_id)
        incoming = AnnotationSerializer(note, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        note = annotation_update(
            annotation=note,
            editor=_user(request),
            text=incoming.validated_data.get("text"),
            t_s=incoming.validated_data.get("t_s"),
            duration_s=_duration_s(note.session),
        )
        return Response(AnnotationSerializer(note, context={"request": request}).data)

    @extend_schema(responses={204: OpenApiResponse(description="deleted")})
    def delete(self, request: Request, annotation_id: str) -> Response:
        note = access_annotation(request.user, annotation_id)
        annotation_delete(annotation=note, deleted_by=_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _duration_s(session: TherapySession) -> float | None:
    timeline = timeline_for_session(session=session)
    overview = timeline_overview(timeline=timeline) if timeline is not None else None
    if overview is not None:
        return float(overview["duration_s"])
    recording = session.recordings.exclude(duration_s=None).order_by("-created_at").first()
    return recording.duration_s if recording is not None else None
