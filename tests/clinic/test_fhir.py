"""The FHIR R4 export an EHR receives: valid, complete, and without the clinician's notes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError
from rest_framework.test import APIClient

from clinic import fhir
from clinic.fhir import (
    CODE_SYSTEM_URL,
    FHIR_CONTENT_TYPE,
    OBSERVATION_NOTICE,
    fhir_validate_bundle,
    session_fhir_bundle,
)
from clinic.models import AuditEvent, Consent, Recording, User
from clinic.services import consent_revoke
from clinic.services.annotations import annotation_create
from tests.clinic.timeline_factory import analysed
from tests.factories import TherapySessionFactory

pytestmark = pytest.mark.django_db

PRIVATE_NOTE = "Wonders whether to leave her marriage"


def _by_type(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        grouped.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return grouped


@pytest.fixture
def exported(dr_rivera: User, recording: Recording, consents: dict[str, Consent]) -> dict[str, Any]:
    analysed(recording)
    session = recording.session
    session.notes = "Private: " + PRIVATE_NOTE
    session.save()
    annotation_create(session=session, author=dr_rivera, t_s=38.0, text=PRIVATE_NOTE)
    client = APIClient()
    client.force_authenticate(dr_rivera)
    response = client.get(
        reverse("api-session-fhir", args=[session.id]), HTTP_ACCEPT=FHIR_CONTENT_TYPE
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith(FHIR_CONTENT_TYPE)
    bundle: dict[str, Any] = json.loads(response.content)
    return bundle


def test_the_export_is_a_valid_r4_collection_of_the_session(exported: dict[str, Any]) -> None:
    Bundle.model_validate(exported)  # what an EHR's validator would check
    assert exported["type"] == "collection"
    resources = _by_type(exported)
    assert set(resources) == {
        "CodeSystem",
        "Patient",
        "Practitioner",
        "Encounter",
        "Consent",
        "Media",
        "Observation",
        "Provenance",
    }
    full_urls = {entry["fullUrl"] for entry in exported["entry"]}
    encounter = resources["Encounter"][0]
    assert encounter["subject"]["reference"] in full_urls
    assert encounter["participant"][0]["individual"]["reference"] in full_urls
    media = resources["Media"][0]
    assert media["encounter"]["reference"] == f"urn:uuid:{encounter['id']}"
    assert media["content"]["url"].endswith(f"/recordings/{media['id']}/media")
    assert resources["Patient"][0]["identifier"][0]["value"] == "P-0042"
    assert len(resources["Consent"]) == 4
    assert {c["status"] for c in resources["Consent"]} == {"active"}


def test_the_trajectory_is_an_observation_with_valence_and_arousal_over_time(
    exported: dict[str, Any], recording: Recording
) -> None:
    observations = _by_type(exported)["Observation"]
    trajectory = next(o for o in observations if o["code"]["coding"][0]["code"] == "trajectory")
    Observation.model_validate(trajectory)
    assert trajectory["code"]["coding"][0]["system"] == CODE_SYSTEM_URL
    assert trajectory["note"][0]["text"] == OBSERVATION_NOTICE
    components = {c["code"]["coding"][0]["code"]: c for c in trajectory["component"]}
    assert set(components) == {"valence", "arousal", "confidence"}
    valence = components["valence"]["valueSampledData"]
    assert valence["period"] == 2000  # one value per 2-s window
    samples = valence["data"].split()
    assert len(samples) == 60
    # The factory's face gap (70-78 s) has no valence: "E", not a made-up zero.
    assert samples[35:39] == ["E"] * 4
    assert float(samples[19]) == pytest.approx(
        recording.timelines.get().document["windows"][19]["valence"], abs=1e-3
    )
    moments = [o for o in observations if o["code"]["coding"][0]["code"] == "key-moment"]
    assert len(moments) == 3
    provenance = _by_type(exported)["Provenance"][0]
    assert {t["reference"] for t in provenance["target"]} == {
        f"urn:uuid:{o['id']}" for o in observations
    }
    assert any("whisper-tiny.en" in e["what"]["display"] for e in provenance["entity"])


def test_clinician_notes_never_reach_the_export(
    exported: dict[str, Any], dr_rivera: User, recording: Recording
) -> None:
    text = json.dumps(exported)
    assert PRIVATE_NOTE not in text
    # The display name stays in the practice; the pseudonym identifies the patient.
    assert '"Sam"' not in text
    assert "name" not in _by_type(exported)["Patient"][0]
    assert AuditEvent.objects.filter(
        actor=dr_rivera, action="session.export_fhir", object_id=str(recording.session_id)
    ).exists()


def test_a_revoked_consent_is_exported_as_inactive_with_its_end(
    recording: Recording, consents: dict[str, Consent]
) -> None:
    consent_revoke(consent=consents["face"])
    bundle = session_fhir_bundle(session=recording.session)
    by_id = {c["id"]: c for c in _by_type(bundle)["Consent"]}
    revoked = by_id[str(consents["face"].id)]
    assert revoked["status"] == "inactive"
    assert "end" in revoked["provision"]["period"]
    assert "Observation" not in _by_type(bundle)  # not analysed yet: nothing to observe


def test_an_invalid_resource_is_refused_before_it_leaves() -> None:
    broken = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Observation", "code": {"text": "x"}}}],
    }
    with pytest.raises(ValidationError, match="status"):
        fhir_validate_bundle(broken)


def test_the_patient_s_whole_record_is_one_bundle_of_every_session_each_resource_once(
    dr_rivera: User, recording: Recording, consents: dict[str, Consent], alex_admin: User
) -> None:
    analysed(recording)
    earlier = TherapySessionFactory.create(
        patient=recording.session.patient, clinician=dr_rivera, date=dt.date(2026, 1, 5)
    )
    annotation_create(session=earlier, author=dr_rivera, t_s=1.0, text=PRIVATE_NOTE)
    client = APIClient()
    client.force_authenticate(dr_rivera)
    url = reverse("api-patient-fhir", args=[recording.session.patient_id])
    response = client.get(url, HTTP_ACCEPT=FHIR_CONTENT_TYPE)
    assert response.status_code == 200
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)

    resources = _by_type(bundle)
    encounters = resources["Encounter"]
    assert [e["period"]["start"] for e in encounters] == [
        "2026-01-05",
        recording.session.date.isoformat(),
    ]
    assert len(resources["Patient"]) == 1
    assert len(resources["Practitioner"]) == 1
    assert len(resources["Consent"]) == len(consents)  # the patient's, not once per session
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    assert PRIVATE_NOTE not in response.content.decode()
    assert AuditEvent.objects.filter(action="patient.export_fhir", actor=dr_rivera).count() == 1

    # The administrator manages the patient's consent and care team, not their record.
    client.force_authenticate(alex_admin)
    assert client.get(url).status_code == 404


def test_timeline_resources_validated_ahead_read_as_the_bundle_validated_at_once(
    recording: Recording, consents: dict[str, Consent]
) -> None:
    timeline = analysed(recording)
    session = recording.session
    raw = [
        orjson.loads(fhir._code_system().text),
        *(r for r in fhir._session_resources(session, None) if isinstance(r, dict)),
        *fhir._timeline_resources(
            timeline,
            timeline.document,
            recording,
            patient_ref=f"urn:uuid:{session.patient_id}",
            encounter_ref=f"urn:uuid:{session.id}",
            media_ref=f"urn:uuid:{recording.id}",
        ),
    ]
    at_once = fhir_validate_bundle(
        {"resourceType": "Bundle", "type": "collection", "entry": [fhir._entry(r) for r in raw]}
    )

    exported = session_fhir_bundle(session=session)

    assert {e["fullUrl"]: e for e in exported["entry"]} == {
        e["fullUrl"]: e for e in at_once["entry"]
    }
    assert [e["resource"]["resourceType"] for e in exported["entry"]][-2:] == [
        "Observation",
        "Provenance",
    ]
