"""The timeline as the review page and the API read it: an overview, or a zoomed range.

The stored document (`moodline.timeline/1`) holds one window per few seconds; an hour-long
session has about a thousand. The overview averages neighbouring windows down to at most
`max_points`, so the chart draws the same shape with less to send; a range returns only what
overlaps `[start_s, end_s]` at full resolution, for zooming in.

The overview at the default resolution is worked out once, when the timeline is stored
(`timeline_overview_of`), and kept encrypted beside the document: opening a session then reads
~150 KB instead of the whole document. Ranges and other resolutions read the document, through
the per-process cache of clinic/selectors/timeline_documents.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from clinic.models import Recording, TherapySession, TimelineResult
from clinic.selectors.timeline_documents import (
    timeline_stored_overview,
    timelines_without_documents,
)

OVERVIEW_MAX_POINTS = 300  # a chart a few hundred pixels wide shows no more than this
OVERVIEW_MAX_POINTS_LIMIT = 2000  # the most an API client may ask for
# The shape of a stored overview. Raise it whenever `timeline_view` changes what it returns:
# stored overviews of another format are then worked out afresh on their next read.
# 2: points carry emotions, channels and gaps; the view, face tracks
# 3: a channel's point carries its emotions_confidence
OVERVIEW_FORMAT = 3


@dataclass(frozen=True)
class TimelineRange:
    start_s: float | None = None  # inclusive; None: from the start of the recording
    end_s: float | None = None  # inclusive; None: to its end

    @property
    def is_whole(self) -> bool:
        return self.start_s is None and self.end_s is None

    def overlaps(self, start_s: float, end_s: float) -> bool:
        return (self.start_s is None or end_s >= self.start_s) and (
            self.end_s is None or start_s <= self.end_s
        )


def timeline_for_session(
    *, session: TherapySession | QuerySet[TherapySession]
) -> TimelineResult | None:
    """The newest timeline of the session's newest analysed recording, if any, without its
    document and overview: read those with `timeline_document` or the overview services.
    `session` may be a query for at most one session (an access check), read in the same query.
    """
    of_session = (
        Q(recording__session__in=session)
        if isinstance(session, QuerySet)
        else Q(recording__session=session)
    )
    return (
        timelines_without_documents()
        .filter(of_session)
        .select_related("recording__session", "job")
        .order_by("-created_at")
        .first()
    )


def timeline_overview_of(document: dict[str, Any]) -> dict[str, Any]:
    """What is stored as a timeline's overview: the whole-session view at the default
    resolution, with the format and resolution it was made for."""
    return {
        "format": OVERVIEW_FORMAT,
        "max_points": OVERVIEW_MAX_POINTS,
        "view": timeline_view(document=document),
    }


def timeline_overview_stored(*, timeline: TimelineResult) -> dict[str, Any] | None:
    """The stored overview view of `timeline`; None when there is none yet, or it was made in
    another format or resolution (or the row is gone)."""
    return overview_view_of_stored(timeline_stored_overview(timeline=timeline))


def overview_view_of_stored(stored: Any) -> dict[str, Any] | None:
    """The view in a stored overview; None unless it is of today's format and resolution."""
    if (
        not isinstance(stored, dict)
        or stored.get("format") != OVERVIEW_FORMAT
        or stored.get("max_points") != OVERVIEW_MAX_POINTS
    ):
        return None
    view: dict[str, Any] = stored["view"]
    return view


def recording_latest(*, session: TherapySession) -> Recording | None:
    return session.recordings.order_by("-created_at").first()


def timeline_view(
    *,
    document: dict[str, Any],
    span: TimelineRange | None = None,
    max_points: int = OVERVIEW_MAX_POINTS,
) -> dict[str, Any]:
    """What the chart needs: the whole session downsampled, or one range in full detail.

    Transcript lines, key moments and gaps are filtered to the range; windows are filtered and,
    for the whole session, averaged down to at most `max_points`.
    """
    span = span or TimelineRange()
    windows = [w for w in document.get("windows", []) if span.overlaps(w["start_s"], w["end_s"])]
    if span.is_whole:
        windows = windows_downsample(windows, max_points=max_points)
    fixed = timeline_view_fixed(document)
    return {
        **{name: fixed[name] for name in VIEW_FIXED_BEFORE},
        "range": {"start_s": span.start_s, "end_s": span.end_s},
        "downsampled": span.is_whole and len(windows) < len(document.get("windows", [])),
        "windows": windows,
        "transcript": _in_range(document.get("transcript", []), span),
        "moments": _in_range(document.get("moments", []), span),
        "gaps": _in_range(document.get("gaps", []), span),
        **{name: fixed[name] for name in VIEW_FIXED_AFTER},
    }


# What a view shows whatever its range, before and after the range's own fields.
VIEW_FIXED_BEFORE = ("schema", "notice", "duration_s", "window_s")
VIEW_FIXED_AFTER = ("speakers", "face_tracks", "summary", "models")


def timeline_view_fixed(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of `timeline_view` that do not depend on the range (VIEW_FIXED_*)."""
    return {
        "schema": document.get("schema"),
        "notice": document.get("notice", ""),
        "duration_s": document.get("duration_s"),
        "window_s": document.get("window_s"),
        "speakers": document.get("speakers", []),
        "face_tracks": document.get("face_tracks", []),
        "summary": talk_summary(document),
        "models": document.get("models", []),
    }


def windows_downsample(
    windows: Sequence[dict[str, Any]], *, max_points: int
) -> list[dict[str, Any]]:
    """Average consecutive windows into at most `max_points` buckets, weighting by confidence.

    A bucket keeps its time span, its mean confidence, and the dominant emotion of its most
    confident window; a bucket whose windows all lack a value keeps None (a gap, not a zero).
    """
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    if len(windows) <= max_points:
        return [_chart_point(w) for w in windows]
    per_bucket = math.ceil(len(windows) / max_points)
    return [_merge(windows[i : i + per_bucket]) for i in range(0, len(windows), per_bucket)]


def talk_summary(document: dict[str, Any]) -> dict[str, Any]:
    """Talk time per role, the client's share of speech, and silences of at least 3 s."""
    duration_s = float(document.get("duration_s") or 0.0)
    talk_s: dict[str, float] = {}
    for speaker in document.get("speakers", []):
        talk_s[speaker["role"]] = talk_s.get(speaker["role"], 0.0) + speaker["talk_time_s"]
    spoken_s = sum(talk_s.values())
    silences = _silences(document.get("transcript", []), duration_s)
    return {
        "talk_time_s": {role: round(value, 1) for role, value in sorted(talk_s.items())},
        "client_talk_ratio": round(talk_s.get("client", 0.0) / spoken_s, 3) if spoken_s else None,
        "silence_count": len(silences),
        "silence_total_s": round(sum(end - start for start, end in silences), 1),
        "longest_silence_s": round(max((end - start for start, end in silences), default=0.0), 1),
    }


SILENCE_MIN_S = 3.0  # a pause shorter than this is ordinary turn-taking


def _silences(transcript: Iterable[dict[str, Any]], duration_s: float) -> list[tuple[float, float]]:
    silences: list[tuple[float, float]] = []
    cursor_s = 0.0
    for line in sorted(transcript, key=lambda entry: entry["start_s"]):
        if line["start_s"] - cursor_s >= SILENCE_MIN_S:
            silences.append((cursor_s, line["start_s"]))
        cursor_s = max(cursor_s, line["end_s"])
    if duration_s - cursor_s >= SILENCE_MIN_S:
        silences.append((cursor_s, duration_s))
    return silences


def _in_range(items: Iterable[dict[str, Any]], span: TimelineRange) -> list[dict[str, Any]]:
    return [item for item in items if span.overlaps(item["start_s"], item["end_s"])]


def _chart_point(window: dict[str, Any]) -> dict[str, Any]:
    modalities = window.get("modalities", {})
    return {
        "start_s": window["start_s"],
        "end_s": window["end_s"],
        "valence": window["valence"],
        "arousal": window["arousal"],
        "confidence": window["confidence"],
        "dominant": window.get("dominant"),
        "emotions": window.get("emotions"),
        "modalities": sorted(modalities),
        "channels": {name: _channel_point(values) for name, values in sorted(modalities.items())},
        "gaps": window.get("gaps", []),
    }


def _channel_point(values: dict[str, Any]) -> dict[str, Any]:
    """What the chart draws of one channel in one window: its own reading and confidence."""
    return {key: values.get(key) for key in CHANNEL_POINT_FIELDS}


# emotions_confidence: what the channel's emotions weighed in the fused ones (words weigh there
# only as far as they carry affect); absent from timelines made before it was recorded
CHANNEL_POINT_FIELDS = ("valence", "arousal", "confidence", "weight", "emotions_confidence")


def _weighted(points: Sequence[dict[str, Any]], key: str) -> float | None:
    """The confidence-weighted mean of `key` over the points that have it; None if none do."""
    pairs = [(p[key], max(p["confidence"] or 0.0, 1e-6)) for p in points if p.get(key) is not None]
    if not pairs:
        return None
    return round(sum(v * c for v, c in pairs) / sum(c for _, c in pairs), 3)


def _mean_over(values: Sequence[float], count: int) -> float | None:
    """The sum of `values` over `count` windows (a window without one counts 0); None if none."""
    return round(sum(values) / count, 3) if values else None


def _merge(bucket: Sequence[dict[str, Any]]) -> dict[str, Any]:
    points = [_chart_point(w) for w in bucket]
    most_confident = max(points, key=lambda p: p["confidence"])
    channels: dict[str, dict[str, Any]] = {}
    for name in sorted({name for p in points for name in p["channels"]}):
        readings = [p["channels"][name] for p in points if name in p["channels"]]
        channels[name] = {
            "valence": _weighted(readings, "valence"),
            "arousal": _weighted(readings, "arousal"),
            "confidence": round(sum(r["confidence"] or 0.0 for r in readings) / len(points), 3),
            "weight": _weighted(readings, "weight"),
            "emotions_confidence": _mean_over(
                [
                    r["emotions_confidence"]
                    for r in readings
                    if r["emotions_confidence"] is not None
                ],
                len(points),
            ),
        }
    with_emotions = [p for p in points if p["emotions"]]
    emotions = None
    if with_emotions:
        labels = with_emotions[0]["emotions"].keys()
        total = sum(max(p["confidence"], 1e-6) for p in with_emotions)
        emotions = {
            label: round(
                sum(p["emotions"][label] * max(p["confidence"], 1e-6) for p in with_emotions)
                / total,
                4,
            )
            for label in labels
        }
    reasons: dict[tuple[str, str], None] = {}  # each gap once, in the order first seen
    for p in points:
        for gap in p["gaps"]:
            reasons[(gap["modality"], gap["reason"])] = None
    return {
        "start_s": bucket[0]["start_s"],
        "end_s": bucket[-1]["end_s"],
        "valence": _weighted(points, "valence"),
        "arousal": _weighted(points, "arousal"),
        "confidence": round(sum(p["confidence"] for p in points) / len(points), 3),
        "dominant": most_confident["dominant"],
        "emotions": emotions,
        "modalities": sorted(channels),
        "channels": channels,
        "gaps": [{"modality": m, "reason": r} for m, r in reasons],
    }
