"""Pages of the clinician UI. They render templates; the data on them comes from the API."""

from __future__ import annotations

import math
import re
import time
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from analysis.timeline import NOTICE
from clinic.access import access_patient_record, access_recording, access_session
from clinic.audit import audit_record
from clinic.frames import FaceBox, NoFrame, frame_thumbnail
from clinic.models import ConsentScope, Recording, User
from clinic.selectors import job_active_for_recording, patients_visible_to, sessions_visible_to
from clinic.selectors.consent import consent_active_modalities, consent_is_active
from clinic.selectors.patient_course import patient_course
from clinic.selectors.timelines import recording_latest
from clinic.services.sessions import session_create
from frontend.forms import NewSessionForm, SessionFilterForm

RANGE_HEADER = re.compile(r"^bytes=(\d*)-(\d*)$")
MEDIA_CHUNK_BYTES = 1024 * 1024  # the most one range response sends, so seeking stays quick


@login_required
@require_GET
def session_list(request: HttpRequest) -> HttpResponse:
    """The clinician's patients and their sessions, newest first, narrowed by the filters."""
    filters = SessionFilterForm(request.GET or None)
    # The list shows no notes (psychotherapy notes, possibly long): not read either.
    sessions = (
        sessions_visible_to(request.user).select_related("patient").defer("notes").order_by("-date")
    )
    patients = patients_visible_to(request.user).order_by("pseudonym")
    if filters.is_valid():
        sessions = filters.narrow(sessions)
        if filters.cleaned_data["q"]:
            patients = patients.filter(pseudonym__icontains=filters.cleaned_data["q"])
    elif filters.is_bound:  # a malformed filter matches nothing, rather than everything
        sessions = sessions.none()
    audit_record(actor=_staff(request), action="session.list", request=request)
    context: dict[str, Any] = {
        "patients": patients,
        "sessions": sessions.prefetch_related("recordings")[:200],
        "filters": filters,
        "selected_patient": request.GET.get("patient", ""),
        "can_create": isinstance(request.user, User) and request.user.is_clinician,
        "notice": NOTICE,
    }
    return render(request, "frontend/session_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def session_new(request: HttpRequest) -> HttpResponse:
    """A clinician opens a session for a patient on their care team, then uploads to it."""
    user = request.user
    if not isinstance(user, User) or not user.is_clinician:
        raise PermissionDenied("Only a clinician can open a session.")
    form = NewSessionForm(user, request.POST or None, initial={"date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        session = session_create(
            patient=form.cleaned_data["patient"], clinician=user, date=form.cleaned_data["date"]
        )
        return redirect("session-review", session_id=session.id)
    return render(request, "frontend/session_new.html", {"form": form, "notice": NOTICE})


@login_required
@require_GET
def session_review(request: HttpRequest, session_id: str) -> HttpResponse:
    session = access_session(request.user, session_id)
    recording = recording_latest(session=session)
    audit_record(actor=_staff(request), action="session.review", obj=session, request=request)
    active_job = job_active_for_recording(recording=recording) if recording else None
    consented = consent_active_modalities(patient=session.patient)
    show_frames = bool(recording and recording.file) and ConsentScope.FACE in consented
    return render(
        request,
        "frontend/session_review.html",
        {
            "session": session,
            "recording": recording,
            "active_job": active_job,
            "show_frames": show_frames,
            "consents": [
                {"label": scope.label, "given": scope in consented} for scope in ConsentScope
            ],
            "notice": NOTICE,
        },
    )


@login_required
@require_GET
def patient_page(request: HttpRequest, patient_id: str) -> HttpResponse:
    """The patient's course: every session in order, with trends across the analysed ones."""
    patient = access_patient_record(request.user, patient_id)
    sessions = list(sessions_visible_to(request.user).filter(patient=patient).defer("notes"))
    course = patient_course(patient=patient, sessions=sessions)
    audit_record(actor=_staff(request), action="patient.course", obj=patient, request=request)
    by_id = {session.id: session for session in sessions}
    rows = [{"session": by_id[entry.session_id], "course": entry} for entry in course]
    return render(
        request,
        "frontend/patient.html",
        {
            "patient": patient,
            "rows": rows,
            "course": [entry.to_json() for entry in course],
            "notice": NOTICE,
        },
    )


@login_required
@require_GET
def recording_media(request: HttpRequest, recording_id: str) -> HttpResponseBase:
    """The recording's bytes for the review page's player, with HTTP range support (206)."""
    recording = access_recording(request.user, recording_id)
    if not recording.file:
        # The media was purged under the retention policy; the recording's record remains.
        raise Http404("This recording's media has been deleted under the retention policy.")
    size = recording.size_bytes
    match = RANGE_HEADER.match(request.headers.get("Range", ""))
    start, end = 0, size - 1
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = (
                int(match.group(2))
                if match.group(2)
                else min(size - 1, start + MEDIA_CHUNK_BYTES - 1)
            )
        else:  # "bytes=-N": the last N bytes
            start = max(0, size - int(match.group(2)))
        end = min(end, size - 1)
        if start > end:
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
    if _first_read_in_a_while(request, recording):  # one event per playback, not per range
        audit_record(
            actor=_staff(request),
            action="recording.view",
            obj=recording,
            request=request,
            details={"range_start": start},
        )
    handle = recording.file.open("rb")
    handle.seek(start)
    length = end - start + 1
    response = FileResponse(_limited(handle, length), content_type=_media_type(recording))
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    # Whatever the file holds, a browser never runs it as a page: a player reads the bytes,
    # nothing else does (the type is a media type, never sniffed, and the page is sandboxed).
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "attachment"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    if match:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


@login_required
@require_GET
def recording_frame(request: HttpRequest, recording_id: str) -> HttpResponse:
    """A thumbnail of the frame at `?t_s=`, or of the face at `&box=x1,y1,x2,y2` in it: the face
    frames behind a score. Only while the patient consents to video analysis, and audited as a
    view of the recording."""
    recording = access_recording(request.user, recording_id)
    try:
        t_s = float(request.GET.get("t_s", ""))
    except ValueError:
        return HttpResponseBadRequest("t_s must be a time in seconds, such as ?t_s=12.5")
    if not math.isfinite(t_s) or t_s < 0:
        return HttpResponseBadRequest("t_s must be a time in seconds from 0, such as ?t_s=12.5")
    try:
        box = FaceBox.parse(request.GET["box"]) if "box" in request.GET else None
    except ValueError as error:
        return HttpResponseBadRequest(str(error))
    patient = recording.session.patient
    if not consent_is_active(patient=patient, modality=ConsentScope.FACE):
        raise PermissionDenied("The patient does not consent to video analysis: no frames shown.")
    if not recording.file:
        raise Http404("This recording's media has been deleted under the retention policy.")
    try:
        with recording.file.open("rb") as media:
            image = frame_thumbnail(media, t_s, box)
    except NoFrame as error:
        raise Http404(str(error)) from error
    audit_record(
        actor=_staff(request),
        action="recording.view_frame",
        obj=recording,
        request=request,
        details={"t_s": round(t_s, 2), "face_only": box is not None},
    )
    response = HttpResponse(image, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


MEDIA_AUDIT_INTERVAL_S = 10 * 60  # a player's range reads within this are one playback


def _first_read_in_a_while(request: HttpRequest, recording: Recording) -> bool:
    """True for the first range read of this recording by this signed-in session in a while:
    a player that seeks straight to the middle is a playback to audit too."""
    key = f"media-audited:{recording.id}"
    now = time.time()
    last = request.session.get(key)
    if isinstance(last, float) and now - last < MEDIA_AUDIT_INTERVAL_S:
        return False
    request.session[key] = now
    return True


def _media_type(recording: Recording) -> str:
    """The declared type when it is audio or video; anything else is served as plain bytes."""
    declared = (recording.content_type or "").split(";")[0].strip().lower()
    return declared if declared.startswith(("video/", "audio/")) else "application/octet-stream"


def _limited(handle: Any, length: int) -> Any:
    remaining = length
    try:
        while remaining > 0:
            chunk = handle.read(min(64 * 1024, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _staff(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None
