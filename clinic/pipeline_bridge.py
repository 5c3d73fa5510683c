"""The glue between a job row and the analysis pipeline (which knows nothing of Django).

- consent in force → `PipelineOptions` (which modalities the pipeline may look at);
- the recording, read through Django's storage API (local disk or S3-compatible), → a local
  temporary file the media decoder can seek in;
- each stage's output ↔ a StageResult row, tagged with the stage's fingerprint, so a job that a
  new worker resumes on another machine reuses what is already in Postgres.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from analysis.pipeline import PipelineOptions, StageOutput
from clinic.models import AnalysisJob, Modality, Recording, StageResult
from clinic.selectors import consent_active_modalities
from clinic.services.jobs import stage_result_save

COPY_CHUNK_BYTES = 4 * 1024 * 1024
# Job options (fixed at request time) that may tune the pipeline, with the type each must have.
TUNABLE_OPTIONS: dict[str, type] = {
    "sample_fps": float,
    "window_s": float,
    "transcript_engine": str,
}


@dataclass(frozen=True)
class SavedStage:
    fingerprint: str  # analysis.pipeline.stage_fingerprints()[stage] when it was computed
    output: StageOutput  # what the stage returned (None: the modality was skipped)


def pipeline_options_for(job: AnalysisJob) -> PipelineOptions:
    """What the pipeline may analyse: the modalities fixed at request time that are still
    consented to now (a consent can end between the request and the run)."""
    recording: Recording = job.recording
    consented = set(job.options.get("modalities", [])) & consent_active_modalities(
        patient=recording.session.patient
    )
    tuning: dict[str, Any] = {
        name: kind(job.options[name])
        for name, kind in TUNABLE_OPTIONS.items()
        if name in job.options
    }
    return PipelineOptions(
        face=Modality.VIDEO.value in consented,
        voice=Modality.AUDIO.value in consented,
        transcript=Modality.TRANSCRIPT.value in consented,
        **tuning,
    )


def recording_local_copy(recording: Recording, folder: Path) -> Path:
    """Copy the stored recording into `folder` through the storage API; the path of the copy.

    Raises FileNotFoundError when storage no longer has the file.
    """
    name = recording.file.name or ""
    target = folder / f"recording{PurePath(name).suffix.lower()}"
    with recording.file.storage.open(name, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, COPY_CHUNK_BYTES)
    return target


def stage_outputs_saved(*, job_id: uuid.UUID | str) -> dict[str, SavedStage]:
    """The stage outputs this job already has, by stage name."""
    saved: dict[str, SavedStage] = {}
    for result in StageResult.objects.filter(job_id=uuid.UUID(str(job_id))):
        if isinstance(result.output, dict) and "fingerprint" in result.output:
            saved[result.stage] = SavedStage(result.output["fingerprint"], result.output["output"])
    return saved


def stage_output_store(
    *,
    job_id: uuid.UUID | str,
    stage: str,
    fingerprint: str,
    output: StageOutput,
    duration_s: float,
) -> None:
    stage_result_save(
        job_id=job_id,
        stage=stage,
        output={"fingerprint": fingerprint, "output": output},
        duration_s=round(duration_s, 3),
    )


def recording_media_record(*, recording_id: uuid.UUID | str, ingest: StageOutput) -> None:
    """Keep what ingest learnt about the file (duration, streams) on the recording."""
    media = (ingest or {}).get("media")
    if media:
        Recording.objects.filter(id=recording_id).update(
            duration_s=media.get("duration_s"), media_info=media
        )
