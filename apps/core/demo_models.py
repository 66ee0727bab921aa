"""The demo's reward models and what reads them (`seed_demo`, apps/core/demo.py): a MiniLM reward
model on every project whose labels train one, an autopilot rule on every project, and a judge
with its job on every project a judge labels, so that calibration has units judged by both.

What each kind can have (from apps/training/datasets.py, apps/judges, apps/autopilot):
- reward models: pairwise and hindsight (Bradley-Terry on pairs), listwise, principles (RLBFF),
  chat (reactions, RLUF). Thumbs and demonstrations train no reward model: their runs are the
  policy runs of apps/core/demo_policy.py.
- judges: every kind with tasks of responses (not chat, not demonstrations). A reward model
  judges where the project has one; the thumbs project, which has none, gets a local judge on
  the tiny GPT-2 of apps/core/demo_policy.py (random weights: its verdicts are noise).
- rules: every kind; chat's labels are reactions, which no label count sees, so its rule runs
  on a schedule.
"""

from django.db import transaction

from apps.accounts.models import User
from apps.projects.models import FeedbackKind, Project

# Small and quick: 1 epoch on the bundled MiniLM, short inputs (seconds to a minute on 2 cores).
RUN_CONFIG = {"num_epochs": 1, "max_length": 128, "batch_size": 16, "save_steps": 0, "seed": 0}

# kind -> (objective, run name, config beyond RUN_CONFIG, held-out share)
REWARD_RUNS = {
    FeedbackKind.PAIRWISE: ("reward_pairwise", "Demo reward model (pairwise, MiniLM)", {}, 0.2),
    FeedbackKind.LISTWISE: (
        "reward_listwise",
        "Demo reward model (rankings, MiniLM)",
        {"batch_size": 4},
        0.2,
    ),
    FeedbackKind.PRINCIPLES: (
        "reward_principle",
        "Demo principle reward model (verdicts, MiniLM)",
        {},
        0.2,
    ),
    # Ten prompts, 18 pairs: three tenths held out keep six pairs to measure on.
    FeedbackKind.HINDSIGHT: (
        "reward_pairwise",
        "Demo reward model (hindsight pairs, MiniLM)",
        {"batch_size": 4},
        0.3,
    ),
    FeedbackKind.CHAT: ("reward_reaction", "Demo reaction model (chat, MiniLM)", {}, 0.2),
}
# Kinds whose reward model judges the project's tasks (apps/judges/backends.RewardModelJudge).
REWARD_JUDGED = (
    FeedbackKind.PAIRWISE,
    FeedbackKind.LISTWISE,
    FeedbackKind.PRINCIPLES,
    FeedbackKind.HINDSIGHT,
)


def reward_run_specs(names: dict[str, str]) -> list[tuple[str, str, str, dict, float]]:
    """(project name, objective, run name, config, held-out share) of each demo reward model;
    `names`: the demo project's name of each kind."""
    return [
        (names[kind], objective, label, {**RUN_CONFIG, **extra}, share)
        for kind, (objective, label, extra, share) in REWARD_RUNS.items()
    ]


# --- autopilot rules ------------------------------------------------------------------------


def demo_rules(*, admin: User, names: dict[str, str]) -> list[int]:
    """An autopilot rule on each demo project that has none: a new reward model every so many
    labels where the kind trains one, a new policy from the demo's tiny GPT-2 on thumbs and
    demonstrations (only where apps/core/demo_policy.py's model root is offered), and a nightly
    reaction model for chat. Returns the rules made."""
    from apps.autopilot.models import TrainingRule
    from apps.autopilot.services import training_rule_create
    from apps.core.demo_policy import POLICY_CONFIG, demo_models_root, reference

    wanted = {
        kind: {
            "name": f"Retrain the {objective.replace('_', ' ')} model every 100 new labels",
            "objective": objective,
            "config": {**RUN_CONFIG, **extra},
            "eval_share": share,
            "every_labels": 100,
        }
        for kind, (objective, _, extra, share) in REWARD_RUNS.items()
    }
    wanted[FeedbackKind.PAIRWISE]["name"] = "Retrain the reward model every 100 new labels"
    # Chat's labels are reactions, which no label count sees: the rule runs at night.
    wanted[FeedbackKind.CHAT].update(
        name="Retrain the reaction model every night", every_labels=None, cron="0 3 * * *"
    )
    if demo_models_root() is not None:
        for kind, objective, every in (
            (FeedbackKind.THUMBS, "kto", 100),
            (FeedbackKind.DEMONSTRATION, "sft", 50),
        ):
            wanted[kind] = {
                "name": f"Train a {objective.upper()} policy from the tiny GPT-2 every {every} new labels",
                "objective": objective,
                "config": {"model": reference(), **POLICY_CONFIG},
                "every_labels": every,
            }
    made = []
    for kind, values in wanted.items():
        project = Project.objects.filter(name=names[kind]).first()
        if project is None or TrainingRule.objects.filter(project=project).exists():
            continue
        made.append(training_rule_create(project=project, user=admin, **values).pk)
    return made


# --- judges ---------------------------------------------------------------------------------


def demo_judges(*, runs, names: dict[str, str]) -> list[int]:
    """Once the demo's reward models have ended: each succeeded one judges its project's tasks
    where the kind allows (a reward-model judge), and the thumbs project gets a local judge on
    the tiny GPT-2. Each judge's job is queued for the worker. Returns the judges made."""
    from apps.judges.models import Judge

    made = []
    for run in sorted(runs, key=lambda run: run.pk):  # judge 1 is the pairwise project's
        project = run.project
        if run.status != "succeeded" or project.kind not in REWARD_JUDGED:
            continue
        if Judge.objects.filter(project=project).exists():
            continue
        made.append(
            _judge(
                project=project,
                name=f"Reward model (run {run.pk})",
                backend="reward_model",
                config={"model": f"run:{run.pk}"},
            )
        )
    thumbs = Project.objects.filter(name=names[FeedbackKind.THUMBS]).first()
    judge = _thumbs_judge(thumbs) if thumbs is not None else None
    if judge is not None:
        made.append(judge)
    return made


def _thumbs_judge(project: Project) -> int | None:
    from apps.core.demo_policy import demo_models_root, reference
    from apps.judges.models import Judge

    if demo_models_root() is None or Judge.objects.filter(project=project).exists():
        return None
    return _judge(
        project=project,
        # Named for what it is: its yes/no odds come from random weights.
        name="Tiny GPT-2, built from a config (random weights: its verdicts are noise)",
        backend="local",
        config={"model": reference(), "device": "cpu"},
    )


def _judge(*, project: Project, name: str, backend: str, config: dict) -> int:
    from apps.judges.services import judge_create, judge_job_create

    with transaction.atomic():
        judge = judge_create(
            project=project, user=project.created_by, name=name, backend=backend, config=config
        )
        judge_job_create(judge=judge, user=project.created_by)
    return judge.pk
