from celery import shared_task

from apps.core.jobs import worker_name
from apps.generation.services import generation_job_run


@shared_task(
    name="generation.run_job",
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    bind=True,
)
def run_job(self, job_id: int) -> str:
    return generation_job_run(job_id=job_id, worker=worker_name(self.request)).status
