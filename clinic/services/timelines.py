"""Timelines are stored when their job succeeds (clinic.services.jobs.job_succeed, which stores
the overview with them); this keeps the stored overview of older rows current."""

from __future__ import annotations

from typing import Any

from clinic.models import TimelineResult
from clinic.selectors.timeline_documents import timeline_document
from clinic.selectors.timelines import timeline_overview_of, timeline_overview_stored
from clinic.services.jobs import TimelineInput, timeline_store

__all__ = ["TimelineInput", "timeline_overview", "timeline_store"]


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
