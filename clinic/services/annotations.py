"""Clinician notes pinned to a time of a session: write, edit, delete, each audited.

Notes stay out of every EHR-facing payload (clinic/fhir.py never reads them). Only the author
may change or delete a note; the rest of the care team reads it.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from analysis.errors import ErrorCode
from clinic.audit import audit_record
from clinic.exceptions import DomainError
from clinic.models import Annotation, TherapySession, User
from clinic.models.annotations import ANNOTATION_MAX_CHARS


class AnnotationEmpty(DomainError):
    code = ErrorCode.ANNOTATION_EMPTY
    message = "A note needs some text."


class AnnotationTooLong(DomainError):
    code = ErrorCode.ANNOTATION_TOO_LONG
    message = f"A note holds at most {ANNOTATION_MAX_CHARS} characters."


class AnnotationOutsideSession(DomainError):
    code = ErrorCode.ANNOTATION_OUTSIDE_SESSION
    message = "A note must be pinned to a time within the recording."


class AnnotationNotYours(DomainError):
    code = ErrorCode.ANNOTATION_NOT_YOURS
    message = "Only the clinician who wrote a note may change or delete it."


def annotations_of_session(*, session: TherapySession) -> QuerySet[Annotation]:
    """The session's notes in timeline order; the caller has already checked access."""
    return Annotation.objects.filter(session=session).select_related("author")


@transaction.atomic
def annotation_create(
    *,
    session: TherapySession,
    author: User,
    t_s: float,
    text: str,
    duration_s: float | None = None,
) -> Annotation:
    """Pin a note at `t_s`; with `duration_s` (the recording's length) the time is checked."""
    text = _checked_text(text)
    _check_time(t_s, duration_s)
    annotation = Annotation.objects.create(session=session, author=author, t_s=t_s, text=text)
    audit_record(
        actor=author, action="annotation.create", obj=annotation, patient=session.patient_id
    )
    return annotation


@transaction.atomic
def annotation_update(
    *,
    annotation: Annotation,
    editor: User,
    text: str | None = None,
    t_s: float | None = None,
    duration_s: float | None = None,
) -> Annotation:
    _check_author(annotation, editor)
    if text is not None:
        annotation.text = _checked_text(text)
    if t_s is not None:
        _check_time(t_s, duration_s)
        annotation.t_s = t_s
    annotation.save(update_fields=["text", "t_s", "updated_at"])
    audit_record(
        actor=editor,
        action="annotation.update",
        obj=annotation,
        patient=annotation.session.patient_id,
    )
    return annotation


@transaction.atomic
def annotation_delete(*, annotation: Annotation, deleted_by: User) -> None:
    _check_author(annotation, deleted_by)
    patient_id = annotation.session.patient_id
    audit_record(
        actor=deleted_by,
        action="annotation.delete",
        obj=annotation,
        patient=patient_id,
    )
    annotation.delete()


def _checked_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise AnnotationEmpty()
    if len(text) > ANNOTATION_MAX_CHARS:
        raise AnnotationTooLong()
    return text


def _check_time(t_s: float, duration_s: float | None) -> None:
    if t_s < 0 or (duration_s is not None and t_s > duration_s):
        raise AnnotationOutsideSession()


def _check_author(annotation: Annotation, user: User) -> None:
    if annotation.author_id != user.pk:
        raise AnnotationNotYours()
