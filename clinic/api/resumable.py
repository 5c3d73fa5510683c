"""Resumable uploads over the API, for recordings of several GB on links that drop.

1. `POST sessions/<id>/uploads/` with the file's name and size: 201 with the upload's id.
2. `PATCH uploads/<id>` with `Upload-Offset: <n>` and the next bytes as the body
   (`application/octet-stream`, at most UPLOAD_PIECE_MAX_BYTES each): 200 with the
   bytes received. A piece that does not start at the received count is refused (409,
   `upload_offset_mismatch`) and changes nothing.
3. After a dropped connection, `GET uploads/<id>` says where to resume.
4. `POST uploads/<id>/complete`: the recording is checked and stored exactly as a one-request
   upload is, and its analysis queued unless `analyse` is false.

The logic is in clinic.services.resumable_uploads.
"""

from __future__ import annotations

from typing import IO, Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.errors import ErrorCode
from clinic.access import NOT_FOUND_MESSAGE, access_session
from clinic.api.auth import caller, scoped
from clinic.api.errors import ApiError
from clinic.api.idempotency import idempotent
from clinic.api.serializers import RecordingSerializer
from clinic.api.views import recording_from_upload
from clinic.models import ResumableUpload
from clinic.scopes import Scope
from clinic.services.resumable_uploads import (
    upload_discard,
    upload_finish,
    upload_piece_add,
    upload_start,
)

OFFSET_HEADER = "Upload-Offset"
OFFSET_INVALID_MESSAGE = f"{OFFSET_HEADER} must be the number of bytes already received."


class PieceParser(BaseParser):
    """The body of a PATCH is the piece's bytes; the view reads them as a stream."""

    media_type = "application/octet-stream"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return stream


class UploadStartSerializer(serializers.Serializer[None]):
    filename = serializers.CharField(max_length=255)
    size_bytes = serializers.IntegerField(min_value=1)


class UploadStateSerializer(serializers.ModelSerializer[ResumableUpload]):
    session = serializers.UUIDField(source="session_id", read_only=True)

    class Meta:
        model = ResumableUpload
        fields = ("id", "session", "filename", "size_bytes", "received_bytes", "expires_at")


class UploadFinishSerializer(serializers.Serializer[None]):
    analyse = serializers.BooleanField(default=True)


def _upload(request: Request, upload_id: str) -> ResumableUpload:
    """The caller's own upload, to a session it may still see."""
    upload = (
        ResumableUpload.objects.select_related("session")
        .filter(id=upload_id, created_by=caller(request))
        .first()
    )
    if upload is None:
        raise ApiError(ErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE, status_code=404)
    access_session(request.user, upload.session_id)
    return upload


class UploadStart(APIView):
    required_scopes = scoped(POST=Scope.RECORDINGS_UPLOAD)

    @extend_schema(request=UploadStartSerializer, responses={201: UploadStateSerializer})
    @idempotent()
    def post(self, request: Request, session_id: str) -> Response:
        session = access_session(request.user, session_id)
        incoming = UploadStartSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = upload_start(
            session=session, started_by=caller(request), **incoming.validated_data
        )
        return Response(UploadStateSerializer(upload).data, status=status.HTTP_201_CREATED)


class UploadDetail(APIView):
    parser_classes = (PieceParser,)
    required_scopes = scoped(GET=Scope.RECORDINGS_UPLOAD, PATCH=Scope.RECORDINGS_UPLOAD)

    @extend_schema(responses=UploadStateSerializer)
    def get(self, request: Request, upload_id: str) -> Response:
        return Response(UploadStateSerializer(_upload(request, upload_id)).data)

    @extend_schema(
        request={PieceParser.media_type: OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter(
                OFFSET_HEADER,
                int,
                OpenApiParameter.HEADER,
                required=True,
                description="where this piece starts: the upload's received_bytes",
            )
        ],
        responses=UploadStateSerializer,
    )
    def patch(self, request: Request, upload_id: str) -> Response:
        upload = _upload(request, upload_id)
        try:
            offset = int(request.headers.get(OFFSET_HEADER, ""))
        except ValueError:
            raise ApiError(ErrorCode.INVALID_REQUEST, OFFSET_INVALID_MESSAGE) from None
        upload_piece_add(upload=upload, offset=offset, body=cast(IO[bytes], request.data))
        return Response(UploadStateSerializer(upload).data)


class UploadComplete(APIView):
    required_scopes = scoped(POST=Scope.RECORDINGS_UPLOAD)

    @extend_schema(request=UploadFinishSerializer, responses={201: RecordingSerializer})
    @idempotent()
    def post(self, request: Request, upload_id: str) -> Response:
        upload = _upload(request, upload_id)
        incoming = UploadFinishSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            body = upload_finish(
                upload=upload,
                store=lambda file: recording_from_upload(
                    session=upload.session,
                    file=file,
                    user=caller(request),
                    analyse=incoming.validated_data["analyse"],
                ),
            )
        except ApiError:  # not a recording (`not_media`, ...): sending it again cannot help
            upload_discard(upload=upload)
            raise
        return Response(body, status=status.HTTP_201_CREATED)
