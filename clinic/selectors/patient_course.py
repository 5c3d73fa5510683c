"""A patient's course across sessions: each analysed session reduced to the figures a clinician
follows over time (mean valence and arousal with their spread, the share of time in each
emotion, the client's share of the talk, the number of key moments).

Each session is read from its stored overview (the whole session at chart resolution, a few
hundred points), not its whole document: a patient page reads one small row per session.
Means are weighted by each point's duration and confidence, as the chart draws them.
"""

from __future__ import annotations

import datetime
import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from analysis.labels import EMOTIONS
from clinic.models import Patient, TherapySession, TimelineResult
from clinic.selectors.timeline_documents import timelines_without_documents
from clinic.services.timelines import timeline_overview


@dataclass(frozen=True)
class Reading:
    mean: float
    spread: float  # the weighted standard deviation over the session's points


@dataclass(frozen=True)
class SessionCourse:
    session_id: uuid.UUID
    date: datetime.date
    analysed: bool  # False: no timeline yet (not recorded, analysing, or purged)
    duration_s: float | None = None
    valence: Reading | None = None
    arousal: Reading | None = None
    emotion_share: dict[str, float] | None = None  # of the time with a reading, per dominant
    client_talk_ratio: float | None = None
    moments: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["session_id"] = str(self.session_id)
        data["date"] = self.date.isoformat()
        return data


def patient_course(*, patient: Patient, sessions: Sequence[TherapySession]) -> list[SessionCourse]:
    """`sessions` (of `patient`, already access-checked), oldest first, each with its figures."""
    ordered = sorted(sessions, key=lambda s: (s.date, s.created_at))
    latest: dict[uuid.UUID, TimelineResult] = {}
    timelines = (
        timelines_without_documents()
        .filter(recording__session__in=[s.id for s in ordered], recording__session__patient=patient)
        .select_related("recording")
        .order_by("-created_at")
    )
    for timeline in timelines:
        latest.setdefault(timeline.recording.session_id, timeline)
    course = []
    for session in ordered:
        found = latest.get(session.id)
        view = timeline_overview(timeline=found) if found is not None else None
        course.append(
            _course_of(session, view)
            if view is not None
            else SessionCourse(session.id, session.date, analysed=False)
        )
    return course


def _course_of(session: TherapySession, view: dict[str, Any]) -> SessionCourse:
    points = view.get("windows", [])
    emotion_s = dict.fromkeys(EMOTIONS, 0.0)
    for point in points:
        if point.get("dominant") in emotion_s:
            emotion_s[point["dominant"]] += point["end_s"] - point["start_s"]
    read_s = sum(emotion_s.values())
    return SessionCourse(
        session_id=session.id,
        date=session.date,
        analysed=True,
        duration_s=view.get("duration_s"),
        valence=_reading(points, "valence"),
        arousal=_reading(points, "arousal"),
        emotion_share=(
            {label: round(s / read_s, 3) for label, s in emotion_s.items()} if read_s else None
        ),
        client_talk_ratio=(view.get("summary") or {}).get("client_talk_ratio"),
        moments=len(view.get("moments", [])),
    )


def _reading(points: Sequence[dict[str, Any]], key: str) -> Reading | None:
    pairs = [
        (p[key], (p["end_s"] - p["start_s"]) * max(p["confidence"], 1e-6))
        for p in points
        if p.get(key) is not None
    ]
    total = sum(w for _, w in pairs)
    if not total:
        return None
    mean = sum(v * w for v, w in pairs) / total
    variance = sum(w * (v - mean) ** 2 for v, w in pairs) / total
    return Reading(round(mean, 3), round(math.sqrt(variance), 3))
