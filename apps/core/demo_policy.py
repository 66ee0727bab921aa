"""The demo's generating models and what they make (`seed_demo`, apps/core/demo.py): two tiny
GPT-2s built from a config (random weights: their text is noise) in the demo's model root, and,
through the real services and the demo's worker, a generation job or a round on every project
whose kind generates, the pairwise project's arena (two contestants, a few battles, votes), and
one small policy run per project, judged by the project's reward model where it has one.

Nothing is downloaded: the models are built here (by trainer/tiny.py), each a 2-layer, 32-wide
GPT-2 over a byte-level tokenizer, so every job and run stays at seconds of CPU. `bin/demo` offers
the folder as a model root (ARBITER_MODEL_ROOTS); without such a root none of this is seeded.
"""

import json
import logging
import random
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.projects.models import FeedbackKind, Project
from trainer.tiny import build_tiny_gpt2

log = logging.getLogger(__name__)

ROOT_NAME = "demo-models"  # the model root's folder name: references read base:demo-models/…
MODELS = ("tiny-random-gpt2-a", "tiny-random-gpt2-b")
# How the models are named where people see them (generated responses, runs).
LABEL = "tiny GPT-2 {side}, built from a config (random weights: its text is noise)"

SAMPLING = {"temperature": 1.0, "max_tokens": 24}
# Kinds a generation job (apps/generation/services.py) writes responses for, and how many per
# prompt each needs; rounds (apps/generation/rounds.py) run on the first three.
ROUND_KINDS = {FeedbackKind.PAIRWISE: 2, FeedbackKind.LISTWISE: 3, FeedbackKind.THUMBS: 2}
JOB_KINDS = {FeedbackKind.PRINCIPLES: 1, FeedbackKind.HINDSIGHT: 2}
FRESH_PROMPTS = [
    "Name one thing to check before you cross a road.",
    "How do I keep bread from going stale?",
]
# One policy objective per kind, on the data that kind collects (apps/training/datasets.py).
POLICY_OBJECTIVES = {
    FeedbackKind.PAIRWISE: "dpo",
    FeedbackKind.LISTWISE: "lipo",
    FeedbackKind.PRINCIPLES: "kto",
    FeedbackKind.THUMBS: "kto",
    FeedbackKind.HINDSIGHT: "dpo",
    FeedbackKind.CHAT: "kto",
    FeedbackKind.DEMONSTRATION: "sft",
}
# A few optimizer steps and a two-prompt evaluation: seconds on a CPU.
POLICY_CONFIG = {
    "max_steps": 2,
    "batch_size": 2,
    "max_length": 128,
    "eval_max_prompts": 2,
    "eval_max_new_tokens": 8,
    "save_steps": 0,
    "seed": 0,
}
EVAL_SHARES = (0.2, 0.1, 0.15, 0.3, 0.4, 0.5)  # held-out shares tried, the usual one first
ARENA_QUESTIONS = {
    "admin": "What is the capital of France?",
    "annotator": "How many legs does a spider have?",
    "maya": "Is it safe to mix bleach and ammonia?",
    "tomas": "What is 12 times 12?",
}
ARENA_VOTERS = ("maya", "tomas")  # the simulated annotators vote; the two sign-ins are left a turn


def demo_models_root() -> Path | None:
    """The model root the demo's models live in (bin/demo offers it), or None."""
    for entry in settings.ARBITER_MODEL_ROOTS:
        path = Path(entry).expanduser()
        if path.name == ROOT_NAME:
            return path
    return None


def reference(index: int = 0) -> str:
    return f"base:{ROOT_NAME}/{MODELS[index]}"


def label(index: int = 0) -> str:
    return LABEL.format(side="AB"[index])


def demo_policy_seed(*, admin: User, users: dict[str, User], now: bool) -> bool:
    """Seeds what is missing of the demo's generation, rounds and arena (the policy runs follow the
    reward models: `demo_policy_runs`). `now`: the jobs and replies run here, not on a worker.
    False when no demo model root is offered."""
    root = demo_models_root()
    if root is None:
        return False
    for index, name in enumerate(MODELS):
        if not (root / name / "config.json").is_file():
            build_tiny_gpt2(root / name, seed=index)
    for project in Project.objects.filter(name__startswith="Demo: ").order_by("pk"):
        if project.kind in ROUND_KINDS:
            _round(project=project, admin=admin, now=now)
        elif project.kind in JOB_KINDS:
            _generation(project=project, admin=admin, now=now)
        if project.kind == FeedbackKind.PAIRWISE:
            _arena(project=project, admin=admin, users=users, now=now)
    return True


# --- generation and rounds ------------------------------------------------------------------


def _backend(index: int = 0) -> dict:
    return {"type": "transformers", "model": reference(index), "name": label(index)}


def _generation(*, project: Project, admin: User, now: bool) -> None:
    """A generation job on two of the project's prompts (more responses, and tasks of them)."""
    from apps.generation.models import Selection
    from apps.generation.services import generation_job_create, generation_job_run

    if project.generation_jobs.exists():
        return
    prompt_ids = list(project.prompts.order_by("pk").values_list("pk", flat=True)[:2])
    with transaction.atomic():
        job = generation_job_create(
            project=project,
            user=admin,
            backends=[_backend()],
            n_per_prompt=JOB_KINDS[project.kind],
            batch_size=4,
            selection=Selection.LISTED,
            prompt_ids=prompt_ids,
            **SAMPLING,
        )
    if now:
        generation_job_run(job_id=job.pk, worker="seed_demo")


def _round(*, project: Project, admin: User, now: bool) -> None:
    """Round 1 of the online loop: the base model answers two fresh prompts (imported here)."""
    from apps.generation.rounds import round_start
    from apps.generation.services import generation_job_run
    from apps.imports.services import import_job_create, import_job_run

    if project.rounds.exists():
        return
    if not project.prompts.filter(responses__isnull=True).exists():
        content = "\n".join(json.dumps({"prompt": p}) for p in FRESH_PROMPTS).encode()
        with transaction.atomic():
            job = import_job_create(
                project=project, user=admin, upload=SimpleUploadedFile("fresh.jsonl", content)
            )
        import_job_run(job_id=job.pk)
    with transaction.atomic():
        started = round_start(
            project=project,
            user=admin,
            base_model=reference(),
            prompts=len(FRESH_PROMPTS),
            n_per_prompt=ROUND_KINDS[project.kind],
            temperature=SAMPLING["temperature"],
            max_tokens=SAMPLING["max_tokens"],
        )
    if now:
        generation_job_run(job_id=started.generation_job_id, worker="seed_demo")


# --- the arena ------------------------------------------------------------------------------


def _arena(*, project: Project, admin: User, users: dict[str, User], now: bool) -> None:
    """Both models in the arena, and a battle of one turn for each of ARENA_QUESTIONS' users; the
    worker writes the replies, then the simulated voters vote (`demo_arena_votes`)."""
    from apps.arena.models import Battle, Reply
    from apps.arena.services import battle_start, contestant_add, reply_generate, turn_send

    if not project.arena_contestants.exists():
        for index in range(len(MODELS)):
            config = {"type": "transformers", "model": reference(index), **SAMPLING}
            contestant_add(project=project, actor=admin, config=config)
    if Battle.objects.filter(project=project).exists():
        return
    battles = []
    for username, question in ARENA_QUESTIONS.items():
        user = users[username]
        with transaction.atomic():
            battle = battle_start(user=user, project_id=project.pk)
            turn_send(user=user, battle_id=battle.pk, content=question)
        battles.append(battle.pk)
    if now:
        for reply_id in Reply.objects.filter(turn__battle_id__in=battles).values_list(
            "pk", flat=True
        ):
            reply_generate(reply_id=reply_id)
        demo_arena_votes(project_id=project.pk)
    else:
        from apps.core.tasks import demo_arena_votes as task

        transaction.on_commit(lambda: task.delay(project.pk))


def demo_arena_votes(*, project_id: int) -> bool:
    """The simulated voters vote on their battles' answered turns and reveal the models. False
    while a reply is still being written. Safe to run twice: a voted turn is left as it is."""
    from apps.arena.models import Battle, Turn
    from apps.arena.selectors import turn_replies_done
    from apps.arena.services import battle_reveal, turn_vote
    from apps.chat.models import UNFINISHED

    turns = list(
        Turn.objects.filter(
            battle__project_id=project_id,
            battle__user__username__in=ARENA_VOTERS,
            choice="",
        )
        .select_related("battle__user")
        .prefetch_related("replies")
    )
    if any(r.status in UNFINISHED for turn in turns for r in turn.replies.all()):
        return False
    rng = random.Random(project_id)
    for turn in turns:
        if not turn_replies_done(turn):
            continue  # a failed reply: the battle waits for a retry
        user = turn.battle.user
        choice = rng.choice(("A", "B", "tie"))
        turn_vote(
            user=user,
            battle_id=turn.battle_id,
            choice=choice,
            strength=None if choice == "tie" else "slightly",
            continue_with="A" if choice == "tie" else None,
        )
    for battle in Battle.objects.filter(
        project_id=project_id, user__username__in=ARENA_VOTERS, revealed_at__isnull=True
    ):
        if not battle.turns.filter(choice="").exists():
            battle_reveal(user=battle.user, battle_id=battle.pk)
    return True


# --- policy runs ----------------------------------------------------------------------------


def demo_policy_runs(*, admin: User) -> list[int]:
    """One small policy run from the tiny model per demo project that has none, judged by the
    project's latest succeeded reward model where it has one (the win rate on the leaderboard).
    Launched once the demo's reward models have ended; returns the runs launched."""
    from apps.training.models import RunStatus, TrainingRun

    if demo_models_root() is None:
        return []
    launched = []
    for project in Project.objects.filter(name__startswith="Demo: ").order_by("pk"):
        objective = POLICY_OBJECTIVES.get(project.kind)
        if objective is None or project.runs.filter(family="policy").exists():
            continue
        reward = (
            TrainingRun.objects.filter(project=project, family="reward", status=RunStatus.SUCCEEDED)
            .order_by("-finished_at", "-pk")
            .first()
        )
        run = _policy_launch(
            project=project, admin=admin, objective=objective, reward_run_id=reward and reward.pk
        )
        if run is not None:
            launched.append(run.pk)
    return launched


def _policy_launch(*, project: Project, admin: User, objective: str, reward_run_id: int | None):
    """The run, held out by prompt at the first share that leaves a small project's snapshot
    enough rows on both sides; None (and a warning) when no share does."""
    from apps.training.services import training_run_launch

    for eval_share in EVAL_SHARES:
        try:
            with transaction.atomic():
                return training_run_launch(
                    project=project,
                    user=admin,
                    objective=objective,
                    config={"model": reference(), **POLICY_CONFIG},
                    eval_share=eval_share,
                    reward_run_id=reward_run_id,
                    name=f"Demo policy ({objective.upper()} from the {label()})",
                )
        except ApplicationError as exc:  # too few labels on one side of the split
            reason = exc.message
    log.warning("Demo policy run for %s not launched: %s", project.name, reason)
    return None
