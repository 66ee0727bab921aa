from celery import shared_task
from celery.signals import worker_ready

from apps.core.jobs import jobs_reap


@shared_task(name="core.reap_jobs", queue="default", acks_late=True, reject_on_worker_lost=True)
def reap_jobs() -> dict:
    """On beat: the one reaper, for every kind of job."""
    return jobs_reap()


@shared_task(name="training.demo_after_runs", queue="training", bind=True, max_retries=720)
def demo_after_runs(self, run_ids: list[int]) -> None:
    """The demo's step after its reward models train (apps/core/demo.py): retried every 10 s
    until they have ended."""
    from apps.core.demo import demo_after_training

    if not demo_after_training(run_ids=run_ids):
        raise self.retry(countdown=10)


@shared_task(name="demo.arena_votes", queue="default", bind=True, max_retries=360)
def demo_arena_votes(self, project_id: int) -> None:
    """The demo's simulated arena votes (apps/core/demo_policy.py): retried every 5 s until the
    worker has written the battles' replies."""
    from apps.core.demo_policy import demo_arena_votes as vote

    if not vote(project_id=project_id):
        raise self.retry(countdown=5)


@worker_ready.connect
def _reap_when_a_worker_starts(sender, **kwargs) -> None:
    """A worker that starts (say, after another one died) first sends back the jobs whose worker
    stopped answering, without waiting for the next beat."""
    jobs_reap()
