"""Celery tasks: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.exports.importing import dataset_import_run
from apps.exports.models import DeliveryStatus
from apps.exports.services import export_job_run
from apps.exports.webhooks import MAX_ATTEMPTS, backoff_seconds, webhook_attempt


@shared_task(name="exports.run_export", queue="default", acks_late=True)
def run_export(job_id: int) -> str:
    return export_job_run(job_id=job_id).status


@shared_task(name="exports.run_dataset_import", queue="default", acks_late=True)
def run_dataset_import(import_id: int) -> str:
    return dataset_import_run(import_id=import_id).status


@shared_task(
    bind=True,
    name="exports.deliver_webhook",
    queue="default",
    acks_late=True,
    max_retries=MAX_ATTEMPTS,
)
def deliver_webhook(self, delivery_id: int) -> str:
    """One try; when the delivery is left pending, the next try is scheduled with backoff."""
    delivery = webhook_attempt(delivery_id=delivery_id)
    if delivery.status == DeliveryStatus.PENDING and not self.request.is_eager:
        raise self.retry(countdown=backoff_seconds(delivery.attempts))
    return delivery.status
