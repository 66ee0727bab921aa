from celery import shared_task

from apps.exports.services import export_job_run


@shared_task(name="exports.run_export", queue="default", acks_late=True)
def run_export(job_id: int) -> str:
    return export_job_run(job_id=job_id).status
