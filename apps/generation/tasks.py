from celery import shared_task

from apps.generation.services import generation_job_run


@shared_task(name="generation.run_job", queue="default", acks_late=True)
def run_job(job_id: int) -> str:
    return generation_job_run(job_id=job_id).status
