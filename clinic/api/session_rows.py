"""The session list's page, read as rows rather than model instances.

A 25-row page through `SessionSerializer` built ~75 model instances and ran ~2,500 field
serializers: the answer took 22 ms in one process, its queries about 1 ms of that. Here the
page is two queries (sessions with their patient and clinician; their recordings, each with its
newest job) whose values go to the JSON as read: ids, dates and instants are written by the
renderer (orjson), as DRF's fields write them (UTC instants end in "Z"). `SessionSerializer`
stays the schema and the single-session answer; a test holds the two to the same output, field
for field.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from psycopg import sql

from clinic.api.serializers import JobSerializer, PatientSerializer, RecordingSerializer
from clinic.models import AnalysisJob, Recording, TherapySession
from clinic.sql_names import column, columns_as, table

# The session's own columns, then its patient's and clinician's under these names.
_SESSION_COLUMNS = ("id", "date", "external_encounter_id", "created_at")
_PATIENT_COLUMNS = tuple(f"patient__{name}" for name in PatientSerializer.Meta.fields)
_CLINICIAN_COLUMNS = ("clinician__username", "clinician__public_id")
SESSION_ROW_COLUMNS = (*_SESSION_COLUMNS, *_PATIENT_COLUMNS, *_CLINICIAN_COLUMNS)

_RECORDING_COLUMNS = tuple(
    name for name in RecordingSerializer.Meta.fields if name not in ("session", "latest_job")
)
_JOB_COLUMNS = tuple(name for name in JobSerializer.Meta.fields if name != "recording")
_JOB_PREFIX = "job_"


def session_rows_of(sessions: QuerySet[TherapySession]) -> QuerySet[TherapySession, Any]:
    """`sessions` as the list reads them: the columns `session_rows` needs, as dicts."""
    return sessions.values(*SESSION_ROW_COLUMNS)


def session_rows(page: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The list's JSON for a page of `session_rows_of` rows, in the page's order."""
    recordings = _recordings_by_session(row["id"] for row in page)
    patient_fields = PatientSerializer.Meta.fields
    return [
        {
            "id": row["id"],
            "date": row["date"],
            "patient": {name: row[f"patient__{name}"] for name in patient_fields},
            "clinician": row["clinician__username"],
            "clinician_id": row["clinician__public_id"],
            "external_encounter_id": row["external_encounter_id"],
            "recordings": recordings.get(row["id"], []),
            "created_at": row["created_at"],
        }
        for row in page
    ]


def _recordings_by_session(session_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    with connection.cursor() as cursor:
        cursor.execute(_recordings_with_latest_job_sql(), [list(session_ids)])
        names = [c.name for c in cursor.description or ()]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    by_session: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        row["latest_job"] = _job_of(row)
        recording = {name: row[name] for name in RecordingSerializer.Meta.fields}
        by_session.setdefault(row["session"], []).append(recording)
    return by_session


def _job_of(row: dict[str, Any]) -> dict[str, Any] | None:
    if row[f"{_JOB_PREFIX}id"] is None:  # never analysed
        return None
    job = {name: row[_JOB_PREFIX + name] for name in _JOB_COLUMNS}
    job["recording"] = row["id"]
    return {name: job[name] for name in JobSerializer.Meta.fields}


@functools.cache
def _recordings_with_latest_job_sql() -> str:
    """The sessions' recordings, newest first, each with its newest job's columns (all null
    when it has none): one round trip, where the ORM needs one query for each."""
    return (
        sql.SQL(
            "SELECT {recording_columns}, {job_columns} FROM {recordings} "
            "LEFT JOIN LATERAL (SELECT * FROM {jobs} WHERE {job_recording} = {recording_id} "
            "ORDER BY {job_created} DESC LIMIT 1) {job} ON TRUE "
            "WHERE {recording_session} = ANY(%s) ORDER BY {recording_created} DESC"
        )
        .format(
            recording_columns=columns_as("recording", Recording, ("session", *_RECORDING_COLUMNS)),
            job_columns=columns_as("job", AnalysisJob, _JOB_COLUMNS, prefix=_JOB_PREFIX),
            recordings=table(Recording, "recording"),
            jobs=table(AnalysisJob, "newest"),
            job_recording=column("newest", AnalysisJob, "recording"),
            recording_id=column("recording", Recording, "id"),
            job_created=column("newest", AnalysisJob, "created_at"),
            job=sql.Identifier("job"),
            recording_session=column("recording", Recording, "session"),
            recording_created=column("recording", Recording, "created_at"),
        )
        .as_string()
    )
