"""Celery tasks: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.core.jobs import worker_name
from apps.exports.importing import dataset_import_run
from apps.exports.services import export_job_run


@shared_task(
    name="exports.run_export",
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    bind=True,
)
def run_export(self, job_id: int) -> str:
    return export_job_run(job_id=job_id, worker=worker_name(self.request)).status


@shared_task(
    name="exports.run_dataset_import",
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    bind=True,
)
def run_dataset_import(self, import_id: int) -> str | None:
    job = dataset_import_run(import_id=import_id, worker=worker_name(self.request))
    return job.status if job else None
