"""A recording analysed end to end through the job services, with a file-backed stage output.

Consent, retention and encryption tests need derived data to exist before they delete it; this
builds it the way a worker would: claim, save each stage, succeed with a timeline.
"""

from __future__ import annotations

from pathlib import Path

from analysis.timeline import SCHEMA_ID
from clinic.models import AnalysisJob, Recording
from clinic.services import job_claim, job_create, job_succeed, stage_result_save
from clinic.services.jobs import TimelineInput
from tests.clinic.timeline_factory import timeline_document

TRANSCRIPT_TEXT = "I have not slept properly since the move."


def analyse(recording: Recording, *, modalities: list[str], workdir: Path) -> AnalysisJob:
    """A succeeded job over `recording` that used `modalities`, every stage's output saved."""
    job = job_create(recording=recording, options={"modalities": modalities})
    assert job_claim(job_id=job.id, worker="worker-test")
    face_file = workdir / f"{job.id}-face.json"
    face_file.write_text('{"tracks": []}')
    stage_result_save(job_id=job.id, stage="ingest", output={"duration_s": 2.0})
    stage_result_save(job_id=job.id, stage="face", output_path=str(face_file))
    stage_result_save(job_id=job.id, stage="voice", output={"segments": [{"valence": 0.1}]})
    stage_result_save(
        job_id=job.id,
        stage="transcript",
        output={
            "utterances": [{"text": TRANSCRIPT_TEXT, "patient": str(recording.session.patient_id)}]
        },
    )
    timeline = TimelineInput(schema_version=SCHEMA_ID, document=timeline_document())
    assert job_succeed(job_id=job.id, timeline=timeline)
    job.refresh_from_db()
    return job
