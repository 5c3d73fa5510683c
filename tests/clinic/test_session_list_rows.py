"""The session list answers from rows, and must say exactly what SessionSerializer says of each
session: the single-session answer and the schema both come from the serializer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.api.renderers import FastJSONRenderer
from clinic.api.serializers import SessionSerializer
from clinic.models import AnalysisJob, Patient, TherapySession, User
from tests.factories import RecordingFactory, TherapySessionFactory

pytestmark = pytest.mark.django_db


def test_each_listed_session_reads_as_the_serializer_writes_it(
    dr_rivera: User, patient: Patient, session_clip: Path
) -> None:
    today = timezone.localdate()
    bare = TherapySessionFactory.create(
        patient=patient, clinician=dr_rivera, date=today, external_encounter_id="enc-7"
    )
    recorded = TherapySessionFactory.create(
        patient=patient, clinician=dr_rivera, date=today - dt.timedelta(days=1)
    )
    never_analysed = RecordingFactory.create(session=recorded, clip=session_clip)
    reanalysed = RecordingFactory.create(session=recorded, clip=session_clip)
    AnalysisJob.objects.create(
        recording=reanalysed,
        status=AnalysisJob.Status.FAILED,
        error_code="decode_failed",
        error_message="The audio track could not be decoded.",
        finished_at=timezone.now(),
    )
    AnalysisJob.objects.create(recording=reanalysed, status=AnalysisJob.Status.QUEUED)

    client = APIClient()
    client.force_authenticate(dr_rivera)
    answer = client.get("/api/v1/sessions/")

    assert answer.status_code == 200
    listed = orjson.loads(answer.content)["results"]
    expected = [
        orjson.loads(FastJSONRenderer().render(SessionSerializer(session).data))
        for session in TherapySession.objects.filter(id__in=[bare.id, recorded.id])
    ]
    assert listed == expected
    recordings = {r["id"]: r for r in listed[1]["recordings"]}
    assert recordings[str(never_analysed.id)]["latest_job"] is None
    assert recordings[str(reanalysed.id)]["latest_job"]["status"] == "queued"  # the newest
