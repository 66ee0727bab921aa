"""A trained reward model's scores for a task's responses: suggestions shown to admins (and to
annotators where the project allows it)."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from apps.labeling.models import Task
from apps.training.models import TaskScore, TrainingRun
from apps.training.services import run_model_dir

SCORABLE = ("reward_pairwise", "reward_listwise", "reward_principle", "reward_reaction")


@dataclass(frozen=True)
class Suggestion:
    response_id: int
    position: int
    score: float


@lru_cache(maxsize=4)
def _scorer(model_dir: str):
    from trainer.scoring import load_reward_model

    return load_reward_model(Path(model_dir))


def champion_reward_run(*, project) -> TrainingRun | None:
    """The reward model that serves the project (apps/autopilot): never simply the latest run."""
    from apps.autopilot.selectors import champion_run

    return champion_run(project=project, family="reward")


def task_suggestions(*, task: Task, run: TrainingRun) -> list[Suggestion]:
    """The run's score for each of the task's responses, in canonical order (higher is better)."""
    items = list(task.items.select_related("response").order_by("position"))
    scorer = _scorer(str(run_model_dir(run)))
    prompt = task.prompt.messages
    scores = scorer.score([prompt] * len(items), [item.response.text for item in items])
    return [
        Suggestion(response_id=item.response_id, position=item.position, score=float(score))
        for item, score in zip(items, scores, strict=True)
    ]


def task_stored_scores(task: Task) -> list[float] | None:
    """The champion reward model's stored scores of the task's responses (canonical order), or
    None: what the labeling page shows as suggestions (plugged in by TrainingConfig.ready)."""
    from apps.autopilot.selectors import champion_run_id

    run_id = champion_run_id(project_id=task.project_id, family="reward")
    if run_id is None:
        return None
    return (
        TaskScore.objects.filter(task=task, run_id=run_id).values_list("scores", flat=True).first()
    )
