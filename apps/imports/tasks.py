"""Celery tasks of the imports: thin shells around the pipeline, safe to deliver twice."""

from celery import shared_task

from apps.imports.services import import_job_run


@shared_task(name="imports.run_import", queue="default", acks_late=True, reject_on_worker_lost=True)
def run_import(job_id: int) -> str | None:
    job = import_job_run(job_id=job_id)
    return job.status if job else None
