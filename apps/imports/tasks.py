from celery import shared_task

from apps.imports.services import import_job_run


@shared_task(name="imports.run_import", queue="default", acks_late=True)
def run_import(job_id: int) -> str:
    return import_job_run(job_id=job_id).status
