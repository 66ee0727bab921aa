"""The chain, stage by stage as the project switched them on: a promoted reward model trains a
policy judged by it; a promoted policy generates the next round's candidates, which become tasks.

Each stage starts in the same transaction as the decision that leads to it, so a worker killed in
between leaves either both or neither: the gate's message comes again (acks late) or the beat's
sweep finds the undecided run, and the chain resumes where it stopped.
"""

import logging

from django.db import transaction

from apps.autopilot.models import Family, ProjectAutopilot, RuleFiring
from apps.core.errors import ApplicationError
from apps.training.models import TrainingRun

log = logging.getLogger(__name__)


def _actor(run: TrainingRun):
    firing = RuleFiring.objects.filter(run=run).select_related("rule__created_by").first()
    return firing.rule.created_by if firing else run.created_by


def chain_after_promotion(*, run: TrainingRun):
    """Starts the stage that follows `run`'s promotion, if the project switched it on. A stage
    that cannot start is noted on the project's autopilot (the promotion stands)."""
    autopilot = ProjectAutopilot.objects.filter(project_id=run.project_id).first()
    if autopilot is None:
        return None
    try:
        with transaction.atomic():
            if run.family == Family.REWARD and autopilot.train_policy:
                return _train_policy(autopilot=autopilot, reward=run)
            if run.family == Family.POLICY and autopilot.start_round:
                return _start_round(autopilot=autopilot, policy=run)
    except ApplicationError as exc:
        ProjectAutopilot.objects.filter(pk=autopilot.pk).update(
            last_error=f"After run {run.pk}: {exc.message}"[:2000]
        )
        return None
    return None


def chat_follow_champion(*, run: TrainingRun) -> bool:
    """A chat project whose chat is answered by one of its own trained policies is answered by
    its champion policy from the next reply on; a base model or a model server the admin chose
    stays. Returns whether the backend changed."""
    from apps.projects.models import FeedbackKind, Project

    project = Project.objects.select_for_update().get(pk=run.project_id)
    backend = project.generation_backend or {}
    model = str(backend.get("model", ""))
    if project.kind != FeedbackKind.CHAT or backend.get("type") != "transformers":
        return False
    if not model.startswith("run:") or model == f"run:{run.pk}":
        return False
    project.generation_backend = {**backend, "model": f"run:{run.pk}"}
    project.save(update_fields=["generation_backend"])
    return True


def _train_policy(*, autopilot: ProjectAutopilot, reward: TrainingRun) -> TrainingRun:
    from apps.autopilot.selectors import champion_run
    from apps.training.services import training_run_launch

    champion_policy = champion_run(project=autopilot.project_id, family=Family.POLICY)
    base = f"run:{champion_policy.pk}" if champion_policy else autopilot.base_model
    return training_run_launch(
        project=reward.project,
        user=_actor(reward),
        objective=autopilot.policy_objective,
        config={**autopilot.policy_config, "model": base},
        reward_run_id=reward.pk,
        name=f"autopilot: {autopilot.policy_objective} judged by reward run {reward.pk}",
    )


def _start_round(*, autopilot: ProjectAutopilot, policy: TrainingRun):
    from apps.generation.rounds import round_start

    return round_start(
        project=policy.project,
        user=_actor(policy),
        generating_run_id=policy.pk,
        prompts=autopilot.round_prompts,
        **autopilot.round_config,
    )


@transaction.atomic
def autopilot_configure(*, project, **fields) -> ProjectAutopilot:
    """Switches the chain's stages; the policy stage's objective and config are checked as a
    launch checks them (with the base model, or the champion policy once there is one)."""
    from apps.autopilot.selectors import champion_run_id
    from apps.training.services import training_config_validate

    autopilot, _ = ProjectAutopilot.objects.update_or_create(project=project, defaults=fields)
    if autopilot.train_policy:
        policy = champion_run_id(project_id=project.pk, family=Family.POLICY)
        base = f"run:{policy}" if policy else autopilot.base_model
        if not base:
            raise ApplicationError("Choose the base model the first policy starts from.")
        training_config_validate(
            project=project,
            objective=autopilot.policy_objective,
            config={**autopilot.policy_config, "model": base},
        )
    return autopilot
