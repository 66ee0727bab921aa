"""Celery tasks: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.core.jobs import JobStatus, worker_name
from apps.webhooks.services import webhook_attempt


@shared_task(
    bind=True, name="webhooks.deliver", queue="default", acks_late=True, reject_on_worker_lost=True
)
def deliver_webhook(self, delivery_id: int) -> str | None:
    """One try; when the delivery goes back to the queue, its next try is sent for when it is
    due (should that message be lost, the job reaper sends another)."""
    delivery = webhook_attempt(delivery_id=delivery_id, worker=worker_name(self.request))
    if delivery is None:
        return None
    if (
        delivery.status == JobStatus.QUEUED
        and delivery.next_attempt_at
        and not self.request.is_eager
    ):
        self.apply_async((delivery_id,), eta=delivery.next_attempt_at)
    return delivery.status
