from celery import shared_task
from celery.signals import worker_ready

from apps.training.services import training_run_execute, training_runs_reap


@shared_task(
    name="training.run", queue="training", acks_late=True, reject_on_worker_lost=True, bind=True
)
def run_training(self, run_id: int) -> None:
    training_run_execute(run_id=run_id, worker=self.request.hostname or "worker")


@shared_task(name="training.reap", queue="training")
def reap_stale_runs() -> list[int]:
    from apps.generation.services import generation_jobs_reap

    return training_runs_reap() + generation_jobs_reap()


@worker_ready.connect
def _reap_when_a_worker_starts(sender, **kwargs) -> None:
    """A worker that starts (say, after another one died) first queues again the runs whose
    worker stopped answering; the training queue's workers pick them up."""
    from apps.generation.services import generation_jobs_reap

    training_runs_reap()
    generation_jobs_reap()


@shared_task(name="training.score_tasks", queue="training", acks_late=True)
def score_tasks(run_id: int) -> int:
    from apps.training.models import TrainingRun
    from apps.training.scoring import tasks_score

    run = (
        TrainingRun.objects.select_related("project").filter(pk=run_id, status="succeeded").first()
    )
    return tasks_score(run=run) if run is not None else 0
