"""Celery tasks: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.webhooks.models import DeliveryStatus
from apps.webhooks.services import MAX_ATTEMPTS, backoff_seconds, webhook_attempt


@shared_task(
    bind=True,
    name="webhooks.deliver",
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_ATTEMPTS,
)
def deliver_webhook(self, delivery_id: int) -> str:
    """One try; when the delivery is left pending, the next try is scheduled with backoff."""
    delivery = webhook_attempt(delivery_id=delivery_id)
    if delivery.status == DeliveryStatus.PENDING and not self.request.is_eager:
        raise self.retry(countdown=backoff_seconds(delivery.attempts))
    return delivery.status
