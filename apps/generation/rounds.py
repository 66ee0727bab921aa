"""Rounds of online iterative RLHF: generate with the current policy on fresh prompts, label,
train a reward model and a new policy, repeat."""

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.autopilot.selectors import champion_run_id
from apps.core.errors import ApplicationError
from apps.feedback.models import Judgment
from apps.generation.models import GenerationJob, Round, Selection
from apps.generation.services import generation_job_create
from apps.labeling.models import Task
from apps.projects.models import FeedbackKind, Project
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import training_run_launch


def _fresh_prompt_ids(project: Project, limit: int) -> list[int]:
    return list(
        project.prompts.filter(responses__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def round_start(
    *,
    project: Project,
    user: User,
    generating_run_id: int | None = None,
    base_model: str = "",
    prompts: int = 50,
    n_per_prompt: int = 2,
    temperature: float = 0.9,
    max_tokens: int = 128,
) -> Round:
    """Starts round k+1: the chosen policy (by default the project's champion policy, or the
    base model for round 1) answers a fresh batch of prompts, and tasks are made of its answers."""
    if project.kind not in (FeedbackKind.PAIRWISE, FeedbackKind.LISTWISE, FeedbackKind.THUMBS):
        raise ApplicationError(_("Rounds run on pairwise, listwise or thumbs projects."))
    previous = project.rounds.order_by("-number").first()
    if generating_run_id is None and not base_model:
        # The champion policy generates (apps/autopilot), never simply the latest run.
        generating_run_id = champion_run_id(project_id=project.pk, family="policy")
    if generating_run_id is None and not base_model:
        raise ApplicationError(
            _("Choose the policy that generates: a trained policy run or a base model.")
        )
    fresh = _fresh_prompt_ids(project, prompts)
    if not fresh:
        raise ApplicationError(
            _("No fresh prompts left: import prompts without responses for the next round.")
        )
    backend = (
        {"training_run": generating_run_id}
        if generating_run_id
        else {"type": "transformers", "model": base_model}
    )
    job = generation_job_create(
        project=project,
        user=user,
        backends=[backend],
        n_per_prompt=n_per_prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        selection=Selection.LISTED,
        prompt_ids=fresh,
    )
    return Round.objects.create(
        project=project,
        number=(previous.number + 1) if previous else 1,
        generating_run_id=generating_run_id,
        base_model=base_model,
        generation_job=job,
        created_by=user,
    )


def round_policy_base(round_: Round) -> str:
    """The model a round's new policy starts from: the policy that generated the round (a model
    reference, see apps/training/model_choices.py)."""
    if round_.generating_run_id:
        return f"run:{round_.generating_run_id}"
    return round_.base_model


@transaction.atomic
def round_train_reward_model(
    *, round_: Round, user: User, config: dict | None = None
) -> TrainingRun:
    run = training_run_launch(
        project=round_.project, user=user, objective="reward_pairwise", config=config or {}
    )
    Round.objects.filter(pk=round_.pk).update(reward_run=run)
    return run


@transaction.atomic
def round_train_policy(
    *, round_: Round, user: User, objective: str = "dpo", config: dict | None = None
) -> TrainingRun:
    """A new policy from the round's generating policy, judged by the round's reward model."""
    reward = round_.reward_run
    if reward is None or reward.status != RunStatus.SUCCEEDED:
        raise ApplicationError(
            _("Train this round's reward model first; it judges the new policy.")
        )
    config = {"model": round_policy_base(round_), **(config or {})}
    run = training_run_launch(
        project=round_.project,
        user=user,
        objective=objective,
        config=config,
        reward_run_id=reward.pk,
    )
    Round.objects.filter(pk=round_.pk).update(policy_run=run)
    return run


@dataclass
class RoundRow:
    round: Round
    job: GenerationJob
    tasks: int
    judged: int
    reward_accuracy: float | None
    policy_win_rate: float | None  # against the previous round's policy (its base)


def rounds_table(*, project: Project) -> list[RoundRow]:
    rounds = list(
        project.rounds.select_related(
            "generation_job", "reward_run", "policy_run", "generating_run"
        ).order_by("number")
    )
    rows = []
    for r in rounds:
        tasks = Task.objects.filter(project=project, context__generation_job=r.generation_job_id)
        rows.append(
            RoundRow(
                round=r,
                job=r.generation_job,
                tasks=tasks.count(),
                judged=Judgment.objects.filter(task__in=tasks).count(),
                reward_accuracy=(r.reward_run.metrics or {}).get("pairwise_accuracy")
                if r.reward_run
                else None,
                policy_win_rate=(r.policy_run.metrics or {}).get("win_rate_vs_base")
                if r.policy_run
                else None,
            )
        )
    return rows
