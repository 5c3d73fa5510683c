"""Timelines are stored when their job succeeds; see clinic.services.jobs.job_succeed."""

from clinic.services.jobs import TimelineInput, timeline_store

__all__ = ["TimelineInput", "timeline_store"]
