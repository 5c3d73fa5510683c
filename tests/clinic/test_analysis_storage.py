"""Workers read recordings through Django's storage API only, so any backend works.

P-0042's recording lives in a storage with no files on this machine at all (Django's in-memory
backend stands in for S3-compatible object storage); the worker still gets a local copy to
decode, and analysis options follow the consents in force when the job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from analysis.modality import Modality
from clinic.models import Consent, ConsentScope, Recording, User
from clinic.services import consent_revoke, job_create
from clinic.worker import pipeline_options_for, recording_local_copy
from tests.factories import RecordingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def object_storage(settings: Any) -> None:
    settings.STORAGES = {
        **django_settings.STORAGES,
        "recordings": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }


def test_a_worker_copies_the_recording_out_of_storage_byte_for_byte(
    object_storage: None,
    therapy_session: Any,
    dr_rivera: User,
    session_clip: Path,
    tmp_path: Path,
) -> None:
    recording = RecordingFactory.create(
        session=therapy_session, clip=session_clip, uploaded_by=dr_rivera
    )
    assert not list(tmp_path.rglob("*.mp4"))  # nothing of it on this machine's disk

    copy = recording_local_copy(recording, tmp_path)

    assert copy.suffix == ".mp4"
    assert copy.read_bytes() == session_clip.read_bytes()


def test_the_pipeline_looks_only_at_what_is_still_consented_when_the_job_runs(
    recording: Recording, dr_rivera: User, consents: dict[str, Consent]
) -> None:
    job = job_create(
        recording=recording,
        options={"modalities": ["voice", "text", "face"], "sample_fps": 1},
    )
    consent_revoke(consent=consents[ConsentScope.FACE], revoked_by=dr_rivera)

    options = pipeline_options_for(job)

    assert options.modalities == {Modality.VOICE, Modality.TEXT}
    assert options.sample_fps == 1.0
