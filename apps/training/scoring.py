"""Reward-model scores stored per task: suggestions for annotators (where the project allows),
disagreement between people and models for admins, and the uncertainty-first queue."""

from statistics import mean, pstdev

from django.db import transaction

from apps.labeling.models import Task
from apps.projects.models import Project, QueueOrder
from apps.training.models import TaskScore, TrainingRun
from apps.training.suggestions import task_suggestions

BATCH = 64


def tasks_score(*, run: TrainingRun, task_ids: list[int] | None = None) -> int:
    """Scores the project's tasks (or the given ones) with the run's reward model and stores the
    scores; then re-orders the queue if the project asks for uncertainty first."""
    tasks = Task.objects.filter(project=run.project).select_related("prompt", "project")
    if task_ids is not None:
        tasks = tasks.filter(pk__in=task_ids)
    # A batch at a time, read whole before its scores are written: a cursor left open across the
    # writes holds SQLite's read lock, and a second writer (the beat) then deadlocks with this one.
    ids = list(tasks.order_by("pk").values_list("pk", flat=True))
    scored = 0
    for start in range(0, len(ids), BATCH):
        for task in list(tasks.filter(pk__in=ids[start : start + BATCH]).order_by("pk")):
            scores = [s.score for s in task_suggestions(task=task, run=run)]
            TaskScore.objects.update_or_create(task=task, run=run, defaults={"scores": scores})
            scored += 1
    if run.project.queue_order == QueueOrder.UNCERTAINTY and _is_champion(run):
        queue_reorder_by_uncertainty(project=run.project)
    return scored


def uncertainty(score_lists: list[list[float]]) -> float:
    """Lower is more uncertain. For one reward model, the gap between its best and second-best
    response; for several, the mean gap of A over B less its spread across models, so pairs the
    models disagree on come first."""
    gaps = []
    for scores in score_lists:
        top = sorted(scores, reverse=True)
        gaps.append(
            scores[0] - scores[1] if len(scores) == 2 else top[0] - top[1] if len(top) > 1 else 0.0
        )
    if len(gaps) == 1:
        return abs(gaps[0])
    return abs(mean(gaps)) - pstdev(gaps)


def _champion_id(project: Project) -> int | None:
    from apps.autopilot.selectors import champion_run_id

    return champion_run_id(project_id=project.pk, family="reward")


def _is_champion(run: TrainingRun) -> bool:
    return _champion_id(run.project) == run.pk


@transaction.atomic
def queue_reorder_by_uncertainty(*, project: Project) -> int:
    """Sets each open task's priority from the champion reward model's stored scores (unscored
    tasks go last): a challenger that was not promoted orders nothing."""
    by_task: dict[int, list[list[float]]] = {}
    for task_id, scores in TaskScore.objects.filter(
        task__project=project, run_id=_champion_id(project)
    ).values_list("task_id", "scores"):
        by_task.setdefault(task_id, []).append(scores)
    open_tasks = list(
        Task.objects.filter(project=project, judgment_count__lt=project.overlap).only(
            "pk", "priority"
        )
    )
    for task in open_tasks:
        task.priority = uncertainty(by_task[task.pk]) if task.pk in by_task else 1e9
    Task.objects.bulk_update(open_tasks, ["priority"], batch_size=1000)
    return len(open_tasks)
