from celery import shared_task

from apps.core.jobs import worker_name
from apps.training.services import training_run_execute


@shared_task(
    name="training.run", queue="training", acks_late=True, reject_on_worker_lost=True, bind=True
)
def run_training(self, run_id: int) -> None:
    training_run_execute(run_id=run_id, worker=worker_name(self.request))


@shared_task(
    name="training.score_tasks", queue="training", acks_late=True, reject_on_worker_lost=True
)
def score_tasks(run_id: int) -> int:
    """Scores the project's tasks with a succeeded reward run; scoring again overwrites the
    scores (one row per task and run), so a second delivery changes nothing."""
    from apps.training.models import TrainingRun
    from apps.training.scoring import tasks_score

    run = (
        TrainingRun.objects.select_related("project").filter(pk=run_id, status="succeeded").first()
    )
    return tasks_score(run=run) if run is not None else 0
