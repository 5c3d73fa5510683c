"""Who is who: a clinician sets the role of a recording's speakers and face tracks, and the
timeline is fused again with them.

The roles only change fusion's inputs, so the new job reuses every other stage's output from the
recording's last analysis (clinic/worker.py, StageResultStore): a role change runs fusion alone.
Roles set earlier are kept unless changed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analysis.voice.speakers import CLIENT, CLINICIAN, UNKNOWN
from clinic.exceptions import RoleAssignmentInvalid
from clinic.models import AnalysisJob, Recording, User
from clinic.selectors.timelines import timeline_for_session
from clinic.services.analysis import analysis_request
from clinic.services.timelines import timeline_overview

ROLES = (CLIENT, CLINICIAN, UNKNOWN)
KINDS = {"speakers": "speaker", "face_tracks": "face"}
# Options an earlier job ran with that its stage outputs depend on: carried over, or the new
# job's fingerprints would differ and nothing could be reused.
CARRIED_OPTIONS = ("sample_fps", "window_s", "transcript_engine")


@dataclass(frozen=True)
class RoleAssignment:
    speakers: Mapping[str, str]  # speaker id -> role
    face_tracks: Mapping[str, str]  # face track id -> role


def roles_reassign(
    *, recording: Recording, assignment: RoleAssignment, requested_by: User | None
) -> AnalysisJob:
    """Queue fusion of `recording` again with these roles; the job, for its progress."""
    timeline = timeline_for_session(session=recording.session)
    # The stored overview names the speakers and face tracks: no need to decode the document.
    overview = (
        timeline_overview(timeline=timeline)
        if timeline is not None and timeline.recording_id == recording.id
        else None
    )
    if timeline is None or overview is None:
        raise RoleAssignmentInvalid(
            "This recording has no timeline yet: roles can be set once it is analysed."
        )
    known = {
        "speakers": {s["id"] for s in overview.get("speakers", [])},
        "face_tracks": {t["id"] for t in overview.get("face_tracks", [])},
    }
    overrides = dict(_earlier_overrides(timeline.job))
    for kind, given in (("speakers", assignment.speakers), ("face_tracks", assignment.face_tracks)):
        for key, role in given.items():
            if key not in known[kind]:
                raise RoleAssignmentInvalid(
                    f"There is no {KINDS[kind]} {key!r} in this recording's timeline; "
                    f"it has {', '.join(sorted(known[kind])) or 'none'}."
                )
            if role not in ROLES:
                raise RoleAssignmentInvalid(
                    f"{role!r} is not a role; a role is one of {', '.join(ROLES)}."
                )
            overrides[f"{KINDS[kind]}:{key}"] = role
    if not assignment.speakers and not assignment.face_tracks:
        raise RoleAssignmentInvalid("Set the role of at least one speaker or face.")
    carried = {k: timeline.job.options[k] for k in CARRIED_OPTIONS if k in timeline.job.options}
    return analysis_request(
        recording=recording,
        requested_by=requested_by,
        options={**carried, "role_overrides": sorted([k, v] for k, v in overrides.items())},
    )


def _earlier_overrides(job: AnalysisJob) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in job.options.get("role_overrides", [])]
