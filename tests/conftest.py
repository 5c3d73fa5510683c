"""Shared fixtures: the people of a small practice, and a real tiny recording.

The practice "Northside Therapy" has Dr Rivera (clinician), Alex (practice administrator) and
Audrey (auditor). Dr Rivera treats patient P-0042, whose session yesterday was recorded, and who
consented to video, audio, transcript and analysis. Tests use the real local Postgres and Redis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clinic.demo_media import ClipOptions, demo_clip_write
from clinic.models import (
    Consent,
    ConsentScope,
    Organisation,
    Patient,
    Recording,
    TherapySession,
    User,
)
from clinic.roles import Role
from tests.factories import (
    CareTeamMembershipFactory,
    ConsentFactory,
    OrganisationFactory,
    PatientFactory,
    RecordingFactory,
    TherapySessionFactory,
    UserFactory,
)

TEST_CLIP_SECONDS = 2.0


@pytest.fixture(autouse=True)
def recordings_dir(settings: Any, tmp_path: Path) -> Path:
    """Every test stores uploaded recordings, and works on decrypted copies, in folders of its
    own."""
    location = tmp_path / "recordings"
    settings.MEDIA_ROOT = tmp_path
    settings.ANALYSIS_SCRATCH_DIR = tmp_path / "scratch"
    settings.STORAGES = {
        **settings.STORAGES,
        "recordings": {
            "BACKEND": "clinic.storage.EncryptedFileSystemStorage",
            "OPTIONS": {"location": str(location), "base_url": None},
        },
    }
    return location


@pytest.fixture(scope="session")
def session_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-second MP4 (H.264 + AAC speech), made once per test run."""
    path = tmp_path_factory.mktemp("clips") / "session.mp4"
    demo_clip_write(path, ClipOptions(duration_s=TEST_CLIP_SECONDS))
    return path


@pytest.fixture
def northside(db: None) -> Organisation:
    return OrganisationFactory.create(name="Northside Therapy")


@pytest.fixture
def dr_rivera(northside: Organisation) -> User:
    return UserFactory.create(username="dr_rivera", organisation=northside, role=Role.CLINICIAN)


@pytest.fixture
def dr_okafor(northside: Organisation) -> User:
    """A clinician of the same practice who does not treat P-0042."""
    return UserFactory.create(username="dr_okafor", organisation=northside, role=Role.CLINICIAN)


@pytest.fixture
def alex_admin(northside: Organisation) -> User:
    return UserFactory.create(username="alex_admin", organisation=northside, role=Role.ADMIN)


@pytest.fixture
def audrey_auditor(northside: Organisation) -> User:
    return UserFactory.create(username="audrey_auditor", organisation=northside, role=Role.AUDITOR)


@pytest.fixture
def patient(northside: Organisation, dr_rivera: User) -> Patient:
    patient = PatientFactory.create(organisation=northside, pseudonym="P-0042", display_name="Sam")
    CareTeamMembershipFactory.create(patient=patient, clinician=dr_rivera)
    return patient


@pytest.fixture
def consents(patient: Patient) -> dict[str, Consent]:
    """Active consent to every modality."""
    return {
        modality: ConsentFactory.create(patient=patient, modality=modality)
        for modality in ConsentScope
    }


@pytest.fixture
def therapy_session(patient: Patient, dr_rivera: User) -> TherapySession:
    return TherapySessionFactory.create(patient=patient, clinician=dr_rivera)


@pytest.fixture
def recording(therapy_session: TherapySession, dr_rivera: User, session_clip: Path) -> Recording:
    return RecordingFactory.create(
        session=therapy_session, clip=session_clip, uploaded_by=dr_rivera
    )
