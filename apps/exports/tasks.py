"""Celery tasks: each takes an id, re-reads its row, and is safe to run twice."""

from celery import shared_task

from apps.exports.importing import dataset_import_run
from apps.exports.services import export_job_run


@shared_task(name="exports.run_export", queue="default", acks_late=True)
def run_export(job_id: int) -> str:
    return export_job_run(job_id=job_id).status


@shared_task(name="exports.run_dataset_import", queue="default", acks_late=True)
def run_dataset_import(import_id: int) -> str:
    return dataset_import_run(import_id=import_id).status
