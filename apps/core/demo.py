"""The demo's data (`manage.py seed_demo`, `make demo`): accounts, a project of every feedback
kind with simulated annotators' judgments made through the real services, and reward-model runs
queued for the demo's worker. The corpus is written in apps/projects/demo.py (no downloads).

Idempotent: a demo project that exists is left as it is, and so is a project's run.
"""

import json
import random
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from apps.accounts.models import ApiToken, User
from apps.accounts.services import api_token_create
from apps.chat.services import (
    _reply_claim,
    _reply_store,
    conversation_start,
    message_send,
    reaction_set,
)
from apps.core.demo_models import demo_judges, demo_rules, reward_run_specs
from apps.core.demo_policy import demo_policy_runs, demo_policy_seed
from apps.exports.options import export_kinds_for
from apps.exports.services import export_job_create, export_job_run
from apps.feedback.services import judgment_submit
from apps.imports.services import import_job_create, import_job_run
from apps.labeling.models import Assignment
from apps.labeling.services import task_claim_next
from apps.projects import demo as corpus
from apps.projects.models import CritiquePolicy, FeedbackKind, Project, Role
from apps.projects.services import (
    membership_set,
    principle_save,
    project_create,
    rubric_item_add,
)
from apps.training.models import TrainingRun
from apps.training.services import training_run_launch

ADMIN, ANNOTATOR = "admin", "annotator"
LOGINS = {ADMIN: "arbiter-admin", ANNOTATOR: "arbiter-label"}
# The simulated annotators (they sign in with arbiter-label too): how often each strays from the
# hidden truth, and one who mostly picks whatever is shown first.
SIMULATED = {"maya": 0.05, "tomas": 0.12, "priya": 0.25, "lee": 0.1}
POSITION_BIASED = "lee"
SIMULATED_PASSWORD = "arbiter-label"


@dataclass(frozen=True)
class DemoProject:
    name: str
    kind: str
    description: str
    settings: dict
    share: float  # the share of the tasks' slots the simulated annotators fill


PAIRWISE = "Demo: which answer is better?"
LISTWISE = "Demo: rank the answers"
PRINCIPLES = "Demo: does it follow the principles?"
THUMBS = "Demo: thumbs up or down"
HINDSIGHT = "Demo: advice, judged in hindsight"
CHAT = "Demo: chat with reactions"
DEMONSTRATION = "Demo: write the answer"

PROJECTS = [
    DemoProject(
        PAIRWISE,
        FeedbackKind.PAIRWISE,
        "Pairwise A/B with tie and strength, critiques, rewrites of the chosen answer and gold tasks.",
        {
            "overlap": 2,
            "pair_strategy": "sampled",
            "max_pairs_per_prompt": 2,
            "gold_rate": 0.1,
            "allow_rewrite": True,
        },
        0.75,
    ),
    DemoProject(
        LISTWISE,
        FeedbackKind.LISTWISE,
        "Listwise ranking with a rubric and a required critique.",
        {"overlap": 2, "critique_policy": CritiquePolicy.REQUIRED, "gold_rate": 0.1},
        0.8,
    ),
    DemoProject(
        PRINCIPLES,
        FeedbackKind.PRINCIPLES,
        "Binary principles (RLBFF): a yes/no verdict per principle per answer.",
        {"overlap": 2},
        0.7,
    ),
    DemoProject(
        THUMBS,
        FeedbackKind.THUMBS,
        "Thumbs up or down on single answers (KTO data).",
        {"overlap": 2, "gold_rate": 0.1},
        0.7,
    ),
    DemoProject(
        HINDSIGHT,
        FeedbackKind.HINDSIGHT,
        "Hindsight (RLHS): judge the advice, then judge again once its consequence is shown.",
        {"overlap": 2},
        0.9,  # ten prompts: enough pairs to train its reward model on, two slots left
    ),
    DemoProject(
        CHAT,
        FeedbackKind.CHAT,
        "Reactions in a live chat (RLUF). The replies seeded here were recorded; point the chat "
        "backend at your own model server to chat live.",
        {
            "generation_backend": {
                "type": "openai",
                "base_url": "http://127.0.0.1:11434/v1",
                "model": "llama3.2",
            }
        },
        1.0,
    ),
    DemoProject(
        DEMONSTRATION,
        FeedbackKind.DEMONSTRATION,
        "Demonstrations: annotators write the answer themselves (SFT data).",
        {"overlap": 2},
        0.85,  # enough demonstrations for an SFT run's train and held-out rows
    ),
]
NAMES = {spec.kind: spec.name for spec in PROJECTS}

PRINCIPLE_TEXTS = {
    "correct": "The answer is factually correct.",
    "complete": "The answer addresses everything the question asks.",
    "safe": "Following the answer would cause no harm.",
}
RUBRIC = ["States the key fact or step correctly", "Answers what was asked", "Is safe to follow"]
# The other kinds whose tasks show responses take a rubric too (scored per response): one item.
# Chat has no tasks and a demonstration shows no response, so neither has one.
RUBRIC_SHORT_KINDS = (
    FeedbackKind.PAIRWISE,
    FeedbackKind.PRINCIPLES,
    FeedbackKind.THUMBS,
    FeedbackKind.HINDSIGHT,
)


@dataclass
class SeedReport:
    projects: dict[str, int]  # name -> judgments made now (0 for a project left as it was)
    runs: list[int]


def demo_seed(*, train: str = "queue") -> SeedReport:
    """Seeds what is missing of the demo. `train`: "queue" queues the reward-model runs for a
    worker, "now" trains them here, "no" launches none."""
    admin = _user(ADMIN, password=LOGINS[ADMIN], superuser=True)
    annotator = _user(ANNOTATOR, password=LOGINS[ANNOTATOR])
    simulated = [_user(name, password=SIMULATED_PASSWORD) for name in SIMULATED]
    rng = random.Random(7)
    random.seed(7)  # the claim path's gold draws and screen orders: the same demo each time
    made = {}
    for spec in PROJECTS:
        if Project.objects.filter(name=spec.name).exists():
            made[spec.name] = 0
            continue
        project = _project(spec=spec, admin=admin, annotators=[annotator, *simulated])
        if spec.kind == FeedbackKind.CHAT:
            users = [admin, annotator, *simulated]
            made[spec.name] = _chat(project=project, users=users, rng=rng)
        else:
            made[spec.name] = _label(
                project=project, annotators=simulated, share=spec.share, rng=rng
            )
        _dataset(project=project, admin=admin)
    for user, scope in ((admin, "admin"), (annotator, "label")):
        if not ApiToken.objects.filter(user=user).exists():
            api_token_create(user=user, name="Python client (demo)", scope=scope)
    if train != "no":
        # Tiny generating models: generation, rounds, the arena (apps/core/demo_policy.py).
        users = {user.username: user for user in (admin, annotator, *simulated)}
        demo_policy_seed(admin=admin, users=users, now=train == "now")
    runs = [] if train == "no" else _runs(admin=admin, now=train == "now")
    return SeedReport(projects=made, runs=runs)


def _user(username: str, *, password: str, superuser: bool = False) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"is_staff": superuser, "is_superuser": superuser}
    )
    if created:
        user.set_password(password)
        user.save()
    return user


# --- projects and their tasks ---------------------------------------------------------------


def _rows(kind: str) -> list[dict]:
    topics = corpus.topic_rows()
    if kind == FeedbackKind.PAIRWISE:
        rows = corpus.demo_rows(60, seed=7) + topics
        # Gold: capital questions (two answers, the right one first), answered by the admin.
        for row in rows:
            if row["prompt"].startswith("What is the capital of") and len(row["responses"]) == 2:
                row["gold"] = {"choice": "A", "strength": "much"}
        return rows
    if kind == FeedbackKind.LISTWISE:
        rows = [r for r in corpus.demo_rows(60, seed=11) if len(r["responses"]) >= 3][:24]
        rows += topics
        for row in rows[:4]:
            row["gold"] = {"ranks": _true_ranks([r["model"] for r in row["responses"]])}
        return rows
    if kind in (FeedbackKind.PRINCIPLES, FeedbackKind.THUMBS):
        rows = topics + [r for r in corpus.demo_rows(40, seed=13) if len(r["responses"]) >= 3][:8]
        if kind == FeedbackKind.THUMBS:
            # Single-answer rows make gold thumbs tasks possible (one task per row).
            rows += [
                {
                    "prompt": f"What is the capital of {country}?",
                    "responses": [{"text": f"It is **{capital}**.", "model": "careful-7b"}],
                    "gold": {"labels": [True]},
                }
                for country, capital in corpus.CAPITALS[:5]
            ]
        return rows
    if kind == FeedbackKind.HINDSIGHT:
        return [
            {
                **row,
                "responses": row["responses"][::2],
                "consequence": corpus.CONSEQUENCES[row["prompt"]],
            }
            for row in topics
            if row["prompt"] in corpus.CONSEQUENCES
        ]
    if kind == FeedbackKind.DEMONSTRATION:
        return [{"prompt": prompt} for prompt, _ in corpus.DEMONSTRATIONS]
    return []


def _true_ranks(models: list[str]) -> list[int]:
    """Dense ranks (1 = best) of responses by their models' quality."""
    levels = sorted({corpus.MODEL_QUALITY.get(m, 0) for m in models}, reverse=True)
    return [levels.index(corpus.MODEL_QUALITY.get(m, 0)) + 1 for m in models]


def _project(*, spec: DemoProject, admin: User, annotators: list[User]) -> Project:
    with transaction.atomic():
        fields = dict(spec.settings)
        project = project_create(
            creator=admin,
            name=spec.name,
            kind=spec.kind,
            description=spec.description,
            guidelines=corpus.DEMO_GUIDELINES,
            **fields,
        )
        for user in annotators:
            membership_set(project=project, user=user, role=Role.ANNOTATOR)
        if spec.kind == FeedbackKind.PRINCIPLES:
            for key, text in PRINCIPLE_TEXTS.items():
                principle_save(project=project, key=key, text=text)
        if spec.kind == FeedbackKind.LISTWISE:
            for text in RUBRIC:
                rubric_item_add(project=project, text=text)
        elif spec.kind in RUBRIC_SHORT_KINDS:
            rubric_item_add(project=project, text=RUBRIC[-1])
        rows = _rows(spec.kind)
        job = None
        if rows:
            content = "\n".join(json.dumps(row) for row in rows).encode()
            job = import_job_create(
                project=project, user=admin, upload=SimpleUploadedFile("demo.jsonl", content)
            )
    if job is not None:
        # The import runs here, not on the worker, so the demo is ready when the URL is printed.
        import_job_run(job_id=job.pk)
    return project


def _dataset(*, project: Project, admin: User) -> None:
    """A dataset snapshot of the project's labels (with its card), exported as the worker would."""
    kinds = export_kinds_for(project.kind)
    if kinds:
        with transaction.atomic():
            job = export_job_create(project=project, kind=kinds[0], options={}, user=admin)
        export_job_run(job_id=job.pk, worker="seed_demo")


# --- simulated annotators -------------------------------------------------------------------


def _label(*, project: Project, annotators: list[User], share: float, rng: random.Random) -> int:
    """The annotators take turns claiming and judging tasks until `share` of all slots is full;
    returns the judgments made (a hindsight slot takes two)."""
    target = int(project.tasks.count() * project.overlap * share)
    filled, made, idle = 0, 0, set()
    while filled < target and len(idle) < len(annotators):
        for user in annotators:
            if user.pk in idle or filled >= target:
                continue
            lease = task_claim_next(project=project, annotator=user)
            if lease is None:
                idle.add(user.pk)
                continue
            made += _judge(project=project, lease=lease, user=user, rng=rng)
            filled += 1
    return made


def _judge(*, project: Project, lease: Assignment, user: User, rng: random.Random) -> int:
    items = list(lease.task.items.order_by("position").select_related("response"))
    quality = [corpus.MODEL_QUALITY.get(item.response.source, 0) for item in items]
    first_shown = next(
        (
            i
            for i, item in enumerate(items)
            if item.response_id == (lease.display_order or [None])[0]
        ),
        0,
    )
    noise = SIMULATED[user.username]
    biased = user.username == POSITION_BIASED and rng.random() < 0.8
    kind = project.kind
    extra: dict = {}
    if kind in (FeedbackKind.PAIRWISE, FeedbackKind.HINDSIGHT) and len(items) == 2:
        payload = _pairwise(
            quality, first_shown=first_shown if biased else None, noise=noise, rng=rng
        )
        if kind == FeedbackKind.PAIRWISE and payload["choice"] in "AB" and rng.random() < 0.12:
            chosen = items["AB".index(payload["choice"])].response.text
            extra = {
                "written_response": _rewrite(chosen),
                "edited_position": "AB".index(payload["choice"]),
            }
        if rng.random() < 0.3:
            extra["critique"] = _critique(payload, quality)
    elif kind == FeedbackKind.LISTWISE:
        ranks = _true_ranks([item.response.source for item in items])
        if biased:
            ranks = [1 if i == first_shown else 2 for i in range(len(items))]
        elif rng.random() < noise * 2:
            i, j = rng.sample(range(len(ranks)), 2)
            ranks[i], ranks[j] = ranks[j], ranks[i]
            ranks = _dense(ranks)
        rubric = [
            {"response": p, "item": item_id, "score": _rubric_score(quality[p], noise, rng)}
            for p in range(len(items))
            for item_id in project.rubric_items.filter(is_active=True).values_list("pk", flat=True)
        ]
        payload = {"ranks": ranks, "rubric": rubric}
        best = ranks.index(1)
        extra["critique"] = (
            f"Answer {'ABCDEFGH'[best]} is the most careful; "
            f"{'the others miss or get wrong part of the question' if len(set(ranks)) > 1 else 'all are about as good'}."
        )
    elif kind == FeedbackKind.PRINCIPLES:
        q = quality[0]
        payload = {
            "verdicts": [
                {"response": 0, "principle": pk, "verdict": _verdict(key, q, noise, rng)}
                for pk, key in project.principles.filter(is_current=True).values_list("pk", "key")
            ]
        }
    elif kind in (FeedbackKind.THUMBS, FeedbackKind.HINDSIGHT):
        up = quality[0] >= 2
        payload = {"labels": [up if rng.random() > noise else not up]}
    elif kind == FeedbackKind.DEMONSTRATION:
        answer = dict(corpus.DEMONSTRATIONS)[lease.task.prompt.messages[-1]["content"]]
        payload, extra = {}, {"written_response": _paraphrase(answer, user.username)}
    else:
        return 0
    if kind != FeedbackKind.LISTWISE and items:
        # Draws of their own, so that the verdicts are those the demo made before it had a rubric.
        draws = random.Random(lease.pk)
        payload["rubric"] = [
            {"response": p, "item": item_id, "score": _rubric_score(quality[p], noise, draws)}
            for p in range(len(items))
            for item_id in project.rubric_items.filter(is_active=True).values_list("pk", flat=True)
        ]
    submission = judgment_submit(
        assignment_id=lease.pk,
        annotator=user,
        payload=payload,
        # What a browser would report; the server keeps the smaller of it and its own clock since
        # the claim (milliseconds here), so the quality page's time is what the simulation took.
        duration_ms=rng.randint(6_000, 45_000),
        **extra,
    )
    count = 1
    if kind == FeedbackKind.HINDSIGHT and submission.judgment.phase == "foresight":
        # The consequence is shown; the annotator judges again, sometimes changing their mind.
        after = dict(payload)
        if "choice" in after and rng.random() < 0.25:
            after = {
                "choice": "B" if after["choice"] == "A" else "A",
                "strength": "slightly",
                "rubric": payload["rubric"],
            }
        judgment_submit(
            assignment_id=lease.pk,
            annotator=user,
            payload=after,
            duration_ms=rng.randint(4_000, 20_000),
        )
        count += 1
    return count


def _pairwise(
    quality: list[int], *, first_shown: int | None, noise: float, rng: random.Random
) -> dict:
    if first_shown is not None:
        return {"choice": "AB"[first_shown], "strength": "slightly"}
    gap = quality[0] - quality[1]
    if rng.random() < noise:
        gap = -gap if gap else rng.choice([-1, 1])
    if gap == 0:
        return {"choice": "tie", "strength": None}
    strength = ("slightly", "clearly", "much")[min(abs(gap), 3) - 1]
    if rng.random() < 0.2:
        strength = rng.choice(("negligibly", "slightly", "clearly", "much"))
    return {"choice": "A" if gap > 0 else "B", "strength": strength}


def _dense(ranks: list[int]) -> list[int]:
    levels = sorted(set(ranks))
    return [levels.index(r) + 1 for r in ranks]


def _rubric_score(quality: int, noise: float, rng: random.Random) -> str:
    score = {3: "met", 2: "partly"}.get(quality, "not_met")
    return rng.choice(("met", "partly", "not_met")) if rng.random() < noise else score


def _verdict(key: str, quality: int, noise: float, rng: random.Random) -> str:
    truth = {"correct": quality >= 2, "complete": quality >= 3, "safe": quality >= 2}[key]
    if rng.random() < noise:
        truth = not truth
    return "yes" if truth else "no"


def _critique(payload: dict, quality: list[int]) -> str:
    if payload["choice"] == "tie":
        return "Both say the same thing; neither is clearly better."
    chosen = "AB".index(payload["choice"])
    if quality[chosen] < quality[1 - chosen]:
        return "Went for the shorter one; it reads faster."
    return "The other answer is wrong or skips the working; this one is correct and explains it."


def _rewrite(text: str) -> str:
    return text.rstrip() + "\n\nIf anything is unclear, ask and I will go through it step by step."


def _paraphrase(answer: str, username: str) -> str:
    openings = {"maya": "", "tomas": "In short: ", "priya": "Sure! ", "lee": "Here is how: "}
    return f"{openings.get(username, '')}{answer}"


# --- chat -----------------------------------------------------------------------------------

REACTIONS_GOOD = ("thumbs_up", "love", "thumbs_up", "laugh")
REACTIONS_BAD = ("thumbs_down", "surprised", "sad")


def _chat(*, project: Project, users: list[User], rng: random.Random) -> int:
    """Each user holds a few of the recorded conversations and reacts to most replies."""
    reactions = 0
    # Four rounds of the recorded chats: enough reactions (about 30) that a held-out fifth of the
    # conversations still leaves a reaction model and a KTO run rows to train on.
    for index, turns in enumerate(corpus.CHATS * 4):
        user = users[index % len(users)]
        conversation = conversation_start(user=user, project=project)
        for question, answer in turns:
            with transaction.atomic():
                reply = message_send(user=user, conversation_id=conversation.pk, content=question)
            claimed = _reply_claim(message_id=reply.pk)
            # A recorded answer, stored as the worker stores a model's.
            _reply_store(
                message_id=claimed.pk,
                attempt=claimed.attempt,
                content=answer,
                error="",
                model_name="careful-7b (recorded)",
            )
            if rng.random() < 0.85:
                good = rng.random() < 0.8
                kind = rng.choice(REACTIONS_GOOD if good else REACTIONS_BAD)
                reaction_set(user=user, message_id=reply.pk, kind=kind)
                reactions += 1
    return reactions


# --- training runs --------------------------------------------------------------------------


def _runs(*, admin: User, now: bool) -> list[int]:
    from apps.core.tasks import demo_after_runs
    from apps.training.services import training_run_execute

    # A reward model on every project whose labels train one (apps/core/demo_models.py).
    launched = []
    for name, objective, label, config, share in reward_run_specs(NAMES):
        project = Project.objects.filter(name=name).first()
        if project is None or TrainingRun.objects.filter(project=project, family="reward").exists():
            continue
        with transaction.atomic():
            run = training_run_launch(
                project=project,
                user=admin,
                objective=objective,
                config=config,
                eval_share=share,
                name=label,
            )
        launched.append(run.pk)
        if now:
            training_run_execute(run_id=run.pk, worker="seed_demo")
    demo_rules(admin=admin, names=NAMES)
    if launched and now:
        demo_after_training(run_ids=launched, now=True)
    elif launched:
        # Behind the runs on the training queue; it waits for them if it comes first.
        transaction.on_commit(lambda: demo_after_runs.delay(launched))
    return launched


def demo_after_training(*, run_ids: list[int], now: bool = False) -> bool:
    """Once the demo's runs have ended: a small policy run per project, judged by its reward model
    (apps/core/demo_policy.py; `now`: trained here), and the reward models become LLM-judge
    stand-ins (reward-model judges) that label their projects' tasks on the worker (`now`:
    here). False while a run is still queued or training."""
    from apps.core.jobs import FINISHED

    runs = list(TrainingRun.objects.filter(pk__in=run_ids).select_related("project"))
    if any(run.status not in FINISHED for run in runs):
        return False
    if runs:
        # Before the judge: the demo's check waits for judge jobs, then for these runs.
        from apps.training.services import training_run_execute

        for policy_run in demo_policy_runs(admin=runs[0].project.created_by):
            if now:
                training_run_execute(run_id=policy_run, worker="seed_demo")
    # Judges on every kind a judge labels (apps/core/demo_models.py), their jobs on the worker.
    judges = demo_judges(runs=runs, names=NAMES)
    if now:
        from apps.judges.models import JudgeJob
        from apps.judges.services import judge_job_run

        for job_id in JudgeJob.objects.filter(judge_id__in=judges).values_list("pk", flat=True):
            judge_job_run(job_id=job_id, worker="seed_demo")
    return True
