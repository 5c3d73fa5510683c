"""Timelines are stored when their job succeeds (clinic.services.jobs.job_succeed, which stores
the overview with them); this keeps the stored overview of older rows current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from clinic.models import TimelineResult
from clinic.selectors.timeline_documents import timeline_derived, timeline_document
from clinic.selectors.timelines import (
    overview_view_of_stored,
    timeline_overview_of,
    timeline_overview_stored,
)
from clinic.services.jobs import TimelineInput, timeline_store
from clinic.storage import json_decode

__all__ = ["TimelineInput", "timeline_overview", "timeline_overview_encoded", "timeline_store"]


def timeline_overview(*, timeline: TimelineResult) -> dict[str, Any] | None:
    """The whole-session view of `timeline` at the default resolution; None if it was deleted.

    Read from the stored overview. A row stored before overviews were, or in an older format,
    has it worked out from the document once and stored for the next read.
    """
    view = timeline_overview_stored(timeline=timeline)
    if view is not None:
        return view
    document = timeline_document(timeline=timeline)
    if document is None:
        return None
    overview = timeline_overview_of(document)
    TimelineResult.objects.filter(id=timeline.id).update(overview=overview)
    fresh: dict[str, Any] = overview["view"]
    return fresh


@dataclass(frozen=True)
class _EncodedOverview:
    text: bytes | None  # None: the stored overview is of another format or resolution

    @property
    def nbytes(self) -> int:
        return len(self.text or b"")


def _encoded_overview(plaintext: bytes) -> _EncodedOverview:
    view = overview_view_of_stored(json_decode(plaintext))
    return _EncodedOverview(None if view is None else orjson.dumps(view))


def timeline_overview_encoded(*, timeline: TimelineResult) -> bytes | None:
    """`timeline_overview` as its JSON text (an object), kept in this process per version of
    the row: the review page opens every session with it, and decoding 160 KB only to encode
    it again was most of what serving it cost. None if the timeline was deleted."""
    held = timeline_derived(
        timeline=timeline, kind="overview-json", column="overview", build=_encoded_overview
    )
    if held is not None and held.text is not None:
        return held.text
    view = timeline_overview(timeline=timeline)  # none stored yet, or in an older format
    return None if view is None else orjson.dumps(view)
