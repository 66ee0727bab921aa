"""Celery tasks: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.core.jobs import worker_name
from apps.webhooks.services import webhook_deliver


@shared_task(
    bind=True, name="webhooks.deliver", queue="default", acks_late=True, reject_on_worker_lost=True
)
def deliver_webhook(self, delivery_id: int) -> None:
    """One try; when it puts the delivery back in the queue, the next try is sent for when it
    is due (should that message be lost, the job reaper sends another)."""
    due = webhook_deliver(delivery_id=delivery_id, worker=worker_name(self.request))
    if due is not None and not self.request.is_eager:
        self.apply_async((delivery_id,), eta=due)
