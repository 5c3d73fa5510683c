"""Webhook delivery on the housekeeping queue: one attempt per task, the next one scheduled
by the task itself; beat re-sends any whose message was lost."""

from __future__ import annotations

from celery import shared_task

from clinic.services.webhooks import (
    webhook_deliveries_due,
    webhook_delivery_attempt,
    webhook_delivery_enqueue,
)


@shared_task(name="clinic.tasks_webhooks.deliver_webhook", queue="housekeeping", ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    delay = webhook_delivery_attempt(delivery_id=delivery_id)
    if delay is not None:
        webhook_delivery_enqueue(delivery_id, countdown_s=delay)  # type: ignore[arg-type]


@shared_task(
    name="clinic.tasks_webhooks.webhook_deliveries_due", queue="housekeeping", ignore_result=True
)
def webhook_deliveries_due_task() -> int:
    return len(webhook_deliveries_due())
