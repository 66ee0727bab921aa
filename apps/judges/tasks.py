from celery import shared_task

from apps.core.jobs import worker_name
from apps.judges.services import judge_job_run


@shared_task(
    name="judges.run_job",
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    bind=True,
)
def run_judge_job(self, job_id: int) -> str:
    return judge_job_run(job_id=job_id, worker=worker_name(self.request)).status
