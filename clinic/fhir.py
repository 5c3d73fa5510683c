"""FHIR R4 export of one therapy session, as a `collection` Bundle for an EHR.

    TherapySession → Encounter (with Patient and Practitioner, identified by pseudonym and id)
    Recording      → Media (R4; DocumentReference only from R5 on)
    Consent        → Consent, one per modality, scope patient-privacy, provision period
    timeline       → Observation: valence, arousal and confidence over time as SampledData
    key moment     → Observation each, with its value and where it sits in the recording
    models         → Provenance of the observations (name, version, checksum of each model)

No LOINC or SNOMED code exists for facial or vocal valence/arousal, so the observations use the
local CodeSystem that the Bundle itself carries. Emotion scores are observations with a
confidence, never a diagnosis: each Observation says so in a note.

What is NOT exported, by design: clinician annotations and the session's own notes (psychotherapy
notes, §164.501), the transcript text, and the patient's name. Every resource is validated with
fhir.resources' R4B models (R4B is R4 with the same Encounter, Media, Consent, Observation and
Provenance); an invalid export raises rather than reaching an EHR.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from clinic.models import Consent, Patient, Recording, TherapySession, TimelineResult
from clinic.selectors.timeline_documents import timeline_derived, timelines_without_documents
from clinic.storage import json_decode

FHIR_CONTENT_TYPE = "application/fhir+json"
CODE_SYSTEM_URL = "https://moodline.example/fhir/CodeSystem/emotional-trajectory"
MODALITY_SYSTEM_URL = "https://moodline.example/fhir/CodeSystem/consent-modality"
PATIENT_PSEUDONYM_SYSTEM = "https://moodline.example/fhir/patient-pseudonym"
PRACTITIONER_ID_SYSTEM = "https://moodline.example/fhir/practitioner"
MODEL_CHECKSUM_SYSTEM = "urn:moodline:model-sha256"
RECORDING_CHECKSUM_SYSTEM = "urn:moodline:recording-sha256"
OBSERVATION_NOTICE = (
    "Automated observation of expressed emotion from face, voice and words, each with a "
    "confidence. It is not a diagnosis."
)
MILLISECONDS_PER_SECOND = 1000

# The local vocabulary: (code, display, definition).
TRAJECTORY_CONCEPTS: tuple[tuple[str, str, str], ...] = (
    ("trajectory", "Emotional trajectory", "Valence and arousal over a recorded session."),
    ("key-moment", "Key moment", "A peak or shift of valence or arousal worth reviewing."),
    ("valence", "Valence", "Pleasant (+1) to unpleasant (-1) expression."),
    ("arousal", "Arousal", "Activated (+1) to calm (-1) expression."),
    ("confidence", "Confidence", "How much the observation can be trusted, 0 to 1."),
    ("offset", "Time offset", "Seconds from the start of the recording."),
)


def session_fhir_bundle(
    *, session: TherapySession, recording_url: Callable[[Recording], str] | None = None
) -> dict[str, Any]:
    """The session as a validated R4 Bundle (a JSON-ready dict).

    `recording_url(recording)` says where an authorised reader can fetch a recording; without
    it the Media carries no URL.
    """
    return _bundle(_session_resources(session, recording_url))


def patient_fhir_bundle(
    *, patient: Patient, recording_url: Callable[[Recording], str] | None = None
) -> dict[str, Any]:
    """Everything exportable about the patient, every session in date order, as one Bundle
    (in the manner of FHIR's `Patient/$everything`): each resource once."""
    resources: dict[str, Resource] = {}
    sessions = patient.sessions.select_related("patient", "clinician").order_by(
        "date", "created_at"
    )
    for session in sessions:
        for resource in _session_resources(session, recording_url):
            resources.setdefault(_resource_key(resource), resource)
    return _bundle(list(resources.values()))


@dataclass(frozen=True)
class ValidatedResource:
    """A resource validated on its own, kept as its normalised JSON text."""

    resource_type: str
    id: str
    text: bytes

    @classmethod
    def of(cls, resource: dict[str, Any]) -> ValidatedResource:
        model = get_fhir_model_class(resource["resourceType"])
        normalised = model.model_validate(resource).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        return cls(resource["resourceType"], resource["id"], orjson.dumps(normalised))


@dataclass(frozen=True)
class TimelineResources:
    """A timeline's Observations and Provenance, validated once per version of its row: they
    are most of an export's size, and validating and building them most of its time."""

    resources: tuple[ValidatedResource, ...]

    @property
    def nbytes(self) -> int:
        return sum(len(resource.text) for resource in self.resources)


# What a Bundle is made of: resources still to validate, and resources validated already.
Resource = dict[str, Any] | ValidatedResource


def _resource_key(resource: Resource) -> str:
    if isinstance(resource, ValidatedResource):
        return f"{resource.resource_type}/{resource.id}"
    return f"{resource['resourceType']}/{resource['id']}"


def _bundle(resources: list[Resource]) -> dict[str, Any]:
    """The Bundle of `resources` in their order, validated: those still to validate as part of
    the Bundle, the others as they were validated before."""
    fresh = [resource for resource in resources if isinstance(resource, dict)]
    bundle = fhir_validate_bundle(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": _instant(timezone.now()),
            "entry": [_entry(resource) for resource in fresh],
        }
    )
    validated = iter(bundle["entry"])
    bundle["entry"] = [
        _entry(orjson.loads(resource.text))
        if isinstance(resource, ValidatedResource)
        else next(validated)
        for resource in resources
    ]
    return bundle


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _session_resources(
    session: TherapySession, recording_url: Callable[[Recording], str] | None
) -> list[Resource]:
    resources: list[Resource] = [_code_system()]
    patient = session.patient
    patient_ref = f"urn:uuid:{patient.id}"
    practitioner_ref = f"urn:uuid:{session.clinician.public_id}"
    encounter_ref = f"urn:uuid:{session.id}"
    resources.append(
        {
            "resourceType": "Patient",
            "id": str(patient.id),
            "identifier": [{"system": PATIENT_PSEUDONYM_SYSTEM, "value": patient.pseudonym}],
        }
    )
    resources.append(
        {
            "resourceType": "Practitioner",
            "id": str(session.clinician.public_id),
            "identifier": [
                {"system": PRACTITIONER_ID_SYSTEM, "value": str(session.clinician.public_id)}
            ],
        }
    )
    resources.append(
        {
            "resourceType": "Encounter",
            "id": str(session.id),
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
                "display": "ambulatory",
            },
            "serviceType": {"text": "Psychotherapy session"},
            "subject": {"reference": patient_ref},
            "participant": [{"individual": {"reference": practitioner_ref}}],
            "period": {"start": session.date.isoformat(), "end": session.date.isoformat()},
        }
    )
    resources.extend(
        _consent(consent, patient_ref) for consent in patient.consents.order_by("given_at")
    )
    for recording in session.recordings.order_by("created_at"):
        url = recording_url(recording) if recording_url is not None else None
        resources.append(_media(recording, patient_ref, encounter_ref, url))
        timeline = (
            timelines_without_documents()
            .filter(recording=recording)
            .order_by("-created_at")
            .first()
        )
        if timeline is not None:
            derived = _timeline_resources_of(timeline, recording, session)
            resources.extend(derived.resources if derived is not None else ())
    return resources


def _timeline_resources_of(
    timeline: TimelineResult, recording: Recording, session: TherapySession
) -> TimelineResources | None:
    """The timeline's resources, worked out once per version of its row and kept in this
    process (None if the row was deleted since it was found)."""

    def build(plaintext: bytes) -> TimelineResources:
        resources = _timeline_resources(
            timeline,
            json_decode(plaintext),
            recording,
            patient_ref=f"urn:uuid:{session.patient_id}",
            encounter_ref=f"urn:uuid:{session.id}",
            media_ref=f"urn:uuid:{recording.id}",
        )
        return TimelineResources(tuple(ValidatedResource.of(r) for r in resources))

    # What they refer to is part of the key, though a timeline never changes recording.
    kind = f"fhir:{session.patient_id}:{session.id}:{recording.id}"
    return timeline_derived(timeline=timeline, kind=kind, build=build)


def fhir_validate_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """Validate with the R4B models; returns the normalised JSON dict, raises ValidationError."""
    validated = Bundle.model_validate(bundle)
    result: dict[str, Any] = validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    return result


@functools.cache
def _code_system() -> ValidatedResource:
    """The local vocabulary, the same in every export: validated once per process."""
    return ValidatedResource.of(
        {
            "resourceType": "CodeSystem",
            "id": "moodline-emotional-trajectory",
            "url": CODE_SYSTEM_URL,
            "name": "MoodlineEmotionalTrajectory",
            "status": "active",
            "content": "complete",
            "concept": [
                {"code": code, "display": display, "definition": definition}
                for code, display, definition in TRAJECTORY_CONCEPTS
            ],
        }
    )


def _concept(code: str) -> dict[str, Any]:
    display = next(d for c, d, _ in TRAJECTORY_CONCEPTS if c == code)
    return {"coding": [{"system": CODE_SYSTEM_URL, "code": code, "display": display}]}


def _consent(consent: Consent, patient_ref: str) -> dict[str, Any]:
    now = timezone.now()
    if consent.is_active(now):
        status = "active"
    elif consent.given_at > now:
        status = "proposed"
    else:
        status = "inactive"
    period: dict[str, str] = {"start": _instant(consent.given_at)}
    end = consent.revoked_at or consent.expires_at
    if end is not None:
        period["end"] = _instant(end)
    return {
        "resourceType": "Consent",
        "id": str(consent.id),
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]},
        ],
        "patient": {"reference": patient_ref},
        "dateTime": _instant(consent.given_at),
        "policyRule": {"text": f"Moodline consent form {consent.form_version}"},
        "provision": {
            "type": "permit",
            "period": period,
            "code": [
                {
                    "coding": [
                        {
                            "system": MODALITY_SYSTEM_URL,
                            "code": consent.modality,
                            "display": consent.get_modality_display(),
                        }
                    ]
                }
            ],
        },
    }


def _media(
    recording: Recording, patient_ref: str, encounter_ref: str, recording_url: str | None
) -> dict[str, Any]:
    info = recording.media_info or {}
    has_video = info.get("has_video", recording.content_type.startswith("video/"))
    content: dict[str, Any] = {
        "contentType": recording.content_type or "application/octet-stream",
        "size": recording.size_bytes,
        "creation": _instant(recording.created_at),
    }
    if recording_url:
        content["url"] = recording_url
    media: dict[str, Any] = {
        "resourceType": "Media",
        "id": str(recording.id),
        "identifier": [{"system": RECORDING_CHECKSUM_SYSTEM, "value": recording.sha256}],
        "status": "completed",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/media-type",
                    "code": "video" if has_video else "audio",
                }
            ]
        },
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "createdDateTime": _instant(recording.created_at),
        "content": content,
    }
    if recording.duration_s is not None:
        media["duration"] = round(recording.duration_s, 3)
    if info.get("width") and info.get("height"):
        media["width"], media["height"] = int(info["width"]), int(info["height"])
    return media


def _timeline_resources(
    timeline: TimelineResult,
    document: dict[str, Any],
    recording: Recording,
    *,
    patient_ref: str,
    encounter_ref: str,
    media_ref: str,
) -> list[dict[str, Any]]:
    recorded_at = _instant(recording.created_at)
    windows = document.get("windows", [])
    period_ms = float(document["window_s"]) * MILLISECONDS_PER_SECOND
    common = {
        "status": "final",
        "subject": {"reference": patient_ref},
        "encounter": {"reference": encounter_ref},
        "derivedFrom": [{"reference": media_ref}],
        "effectiveDateTime": recorded_at,
        "note": [{"text": OBSERVATION_NOTICE}],
    }
    trajectory = {
        "resourceType": "Observation",
        "id": str(timeline.id),
        **common,
        "code": _concept("trajectory"),
        "component": [
            {
                "code": _concept(dimension),
                "valueSampledData": _sampled(
                    (w[dimension] for w in windows), period_ms, lower=lower
                ),
            }
            for dimension, lower in (("valence", -1), ("arousal", -1), ("confidence", 0))
        ],
    }
    moments = [
        {
            "resourceType": "Observation",
            "id": _derived_id(timeline.id, index),
            **common,
            "code": _concept("key-moment"),
            "valueString": f"{moment['kind']} of {moment['dimension']}",
            "component": _moment_components(moment),
        }
        for index, moment in enumerate(document.get("moments", []))
    ]
    observations = [trajectory, *moments]
    provenance = {
        "resourceType": "Provenance",
        "id": _derived_id(timeline.id, len(observations) + 1),
        "target": [{"reference": f"urn:uuid:{o['id']}"} for o in observations],
        "recorded": _instant(timeline.created_at),
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "assembler",
                        }
                    ]
                },
                "who": {"display": f"Moodline analysis ({timeline.schema_version})"},
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": MODEL_CHECKSUM_SYSTEM, "value": model["sha256"]},
                    "display": f"{model['name']} {model['version']} ({model['licence']})",
                },
            }
            for model in document.get("models", [])
        ]
        or [{"role": "source", "what": {"reference": media_ref}}],
    }
    return [*observations, provenance]


def _moment_components(moment: dict[str, Any]) -> list[dict[str, Any]]:
    components = [
        {"code": _concept(moment["dimension"]), "valueQuantity": {"value": moment["value"]}},
        {
            "code": _concept("offset"),
            "valueQuantity": {
                "value": moment["t_s"],
                "unit": "s",
                "system": "http://unitsofmeasure.org",
                "code": "s",
            },
        },
    ]
    if moment.get("confidence") is not None:
        components.append(
            {"code": _concept("confidence"), "valueQuantity": {"value": moment["confidence"]}}
        )
    return components


def _sampled(values: Iterable[float | None], period_ms: float, *, lower: int) -> dict[str, Any]:
    # "E" is SampledData's marker for "no value here" (a gap in every modality).
    data = " ".join("E" if value is None else f"{value:.3f}" for value in values)
    return {
        "origin": {"value": 0},
        "period": period_ms,
        "lowerLimit": lower,
        "upperLimit": 1,
        "dimensions": 1,
        "data": data,
    }


def _derived_id(base: Any, index: int) -> str:
    """A stable id for the n-th resource derived from one timeline (a name-based UUID)."""
    return str(uuid.uuid5(uuid.UUID(str(base)), f"resource-{index}"))


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
