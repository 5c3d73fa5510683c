"""Where a worker keeps the decrypted working copy of the recording it analyses.

The media decoder reads a file it can seek in, so a job decrypts its recording into
`ANALYSIS_SCRATCH_DIR/<node>/job-<job id>/`, owner-only, and removes it when the job ends.
A worker killed mid-job (SIGKILL, out of memory, power) cannot remove anything, so:

- a worker node empties its own folder when it starts (no job of a starting node is running);
- before each job, a worker removes the folders of jobs that no live process of its node
  holds any more (a pool child killed while its node lives on);
- purging a patient removes their jobs' folders from the scratch directory of the machine the
  purge runs on; on a deployment whose workers have disks of their own, the start and per-job
  clean-ups above are what bound how long such a copy can outlive its job.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from clinic.models import AnalysisJob

logger = logging.getLogger(__name__)

JOB_FOLDER = re.compile(r"job-([0-9a-f-]{36})")


def scratch_root() -> Path:
    return Path(settings.ANALYSIS_SCRATCH_DIR)


def node_scratch(node: str) -> Path:
    """This node's folder (node names are Celery's `name@host`: made safe for a path)."""
    return scratch_root() / re.sub(r"[^A-Za-z0-9@._-]", "_", node)


def scratch_empty_node(node: str) -> int:
    """Remove everything a previous run of `node` left; the number of job folders removed."""
    folder = node_scratch(node)
    removed = sum(1 for child in folder.iterdir() if child.is_dir()) if folder.is_dir() else 0
    shutil.rmtree(folder, ignore_errors=True)
    if removed:
        logger.warning("removed %d working copies left by an earlier run of %s", removed, node)
    return removed


def scratch_remove_stale(node: str, *, keep: Iterable[uuid.UUID] = ()) -> int:
    """Remove this node's job folders whose job no live process of the node still runs."""
    kept = {str(job_id) for job_id in keep}
    folders = list(_job_folders(node_scratch(node)))
    ids = [job_id for job_id, _ in folders if job_id not in kept]
    running = AnalysisJob.objects.filter(
        id__in=ids, status=AnalysisJob.Status.RUNNING, worker__startswith=f"{node}#"
    ).values_list("id", "worker")
    alive = {str(job_id) for job_id, worker in running if _process_alive(worker)}
    removed = 0
    for job_id, folder in folders:
        if job_id not in kept and job_id not in alive:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def scratch_forget_jobs(job_ids: Iterable[uuid.UUID]) -> int:
    """Remove these jobs' folders from every node's scratch here (a purge)."""
    wanted = {str(job_id) for job_id in job_ids}
    removed = 0
    root = scratch_root()
    for node in root.iterdir() if root.is_dir() else ():
        for job_id, folder in _job_folders(node):
            if job_id in wanted:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


@contextmanager
def job_scratch(node: str, job_id: uuid.UUID) -> Iterator[Path]:
    """An owner-only folder for one job's working files, removed however the job ends."""
    folder = node_scratch(node) / f"job-{job_id}"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _job_folders(node_folder: Path) -> Iterator[tuple[str, Path]]:
    if not node_folder.is_dir():
        return
    for child in node_folder.iterdir():
        match = JOB_FOLDER.fullmatch(child.name)
        if match and child.is_dir():
            yield match.group(1), child


def _process_alive(worker: str) -> bool:
    _, _, pid = worker.rpartition("#")
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
