"""The periodic retention purge, run by Celery beat on the housekeeping queue.

The schedule lives in settings (CELERY_BEAT_SCHEDULE); django-celery-beat's database scheduler
copies it into its tables, where an administrator can see or pause it.
"""

from __future__ import annotations

from celery import shared_task

from clinic.services.idempotency import idempotency_keys_expire
from clinic.services.resumable_uploads import uploads_expire
from clinic.services.retention import retention_purge

PURGE_TASK = "clinic.tasks_housekeeping.retention_purge_task"


@shared_task(name=PURGE_TASK, queue="housekeeping", ignore_result=True)
def retention_purge_task(dry_run: bool = False) -> dict[str, object]:
    """Purge whatever retention allows now; returns the plan it carried out (ids only)."""
    return retention_purge(dry_run=dry_run).as_report()


@shared_task(
    name="clinic.tasks_housekeeping.idempotency_keys_expire_task",
    queue="housekeeping",
    ignore_result=True,
)
def idempotency_keys_expire_task() -> int:
    return idempotency_keys_expire()


@shared_task(
    name="clinic.tasks_housekeeping.uploads_expire_task", queue="housekeeping", ignore_result=True
)
def uploads_expire_task() -> int:
    """Unfinished resumable uploads past their time, with their pieces."""
    return uploads_expire()
