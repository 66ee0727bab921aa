"""The soak's Django-side steps, run as a subprocess with DATABASE_URL set:

    python bench/soak/soak_side.py seed --tasks 6000 --annotators 200 --models DIR
    python bench/soak/soak_side.py check --acked FILE --imports FILE

`seed` builds the tiny reward backbone in DIR/tiny-bert (offline, tests/trainer/tiny.py) and creates,
through the app's models and services: a staff admin, a pairwise labeling project (overlap 3),
a project for imports, a small labeled project to train on, the annotators (members of the
labeling project) and one label-scoped API token each. `check` reads what the clients were told
(the judgment ids answered 2xx, the imports sent) and counts, from the database, what was lost,
doubled, over-assigned and left unfinished. Each prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from apps.accounts.models import TokenScope, User  # noqa: E402
from apps.accounts.services import api_token_create  # noqa: E402
from apps.core.jobs import JobStatus, job_kinds  # noqa: E402
from apps.corpus.models import Prompt, Response  # noqa: E402
from apps.feedback.models import Judgment  # noqa: E402
from apps.feedback.services import judgment_submit  # noqa: E402
from apps.labeling.services import task_claim_next, tasks_bulk_create  # noqa: E402
from apps.projects.models import FeedbackKind, Membership, Project, Role  # noqa: E402
from bench.labeling.bench_labeling import (  # noqa: E402
    COUNT_DRIFT_SQL,
    DOUBLE_JUDGED_SQL,
    OVER_ASSIGNED_SQL,
)
from tests.trainer.tiny import BAD, GOOD, NEUTRAL, TOPICS, build_tiny_bert  # noqa: E402

OVERLAP = 3
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


def _project(*, name: str, admin: User) -> Project:
    project = Project.objects.create(
        name=name, kind=FeedbackKind.PAIRWISE, overlap=OVERLAP, created_by=admin
    )
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project


def _add_pairs(project: Project, pairs: list[tuple[str, str, str]]) -> None:
    prompts = Prompt.objects.bulk_create(
        [Prompt(project=project, messages=[{"role": "user", "content": q}]) for q, _, _ in pairs],
        batch_size=2000,
    )
    responses = Response.objects.bulk_create(
        [
            Response(prompt=prompt, text=text, source=f"m-{side}")
            for prompt, (_, a, b) in zip(prompts, pairs, strict=True)
            for side, text in (("a", a), ("b", b))
        ],
        batch_size=2000,
    )
    groups = [
        (prompt, responses[2 * i : 2 * i + 2], [(0, 1)], {}) for i, prompt in enumerate(prompts)
    ]
    tasks_bulk_create(project=project, prompt_groups=groups)


def _learnable_pair(rng: random.Random) -> tuple[str, str, str]:
    filler = " ".join(rng.sample(NEUTRAL, 3))
    good = f"{filler} {rng.choice(GOOD)} {rng.choice(GOOD)}"
    bad = f"{filler} {rng.choice(BAD)} {rng.choice(BAD)}"
    return f"{rng.choice(TOPICS)} {rng.choice(NEUTRAL)}", good, bad


def _label_for_training(project: Project, admin: User, *, prompts: int) -> None:
    """Pairs whose better answer holds a 'good' word, judged through the real services."""
    rng = random.Random(0)
    pairs = []
    for _ in range(prompts):
        q, good, bad = _learnable_pair(rng)
        pairs.append((q, good, bad) if rng.random() < 0.5 else (q, bad, good))
    _add_pairs(project, pairs)
    labeler = User.objects.create(username="soak-labeler", password=admin.password)
    Membership.objects.create(project=project, user=labeler, role=Role.ANNOTATOR)
    while (lease := task_claim_next(project=project, annotator=labeler)) is not None:
        texts = [item.response.text for item in lease.task.items.order_by("position")]
        choice = "A" if any(word in texts[0].split() for word in GOOD) else "B"
        judgment_submit(
            assignment_id=lease.pk,
            annotator=labeler,
            payload={"choice": choice, "strength": "clearly"},
        )


def seed(args) -> dict:
    started = time.monotonic()
    model = build_tiny_bert(Path(args.models) / "tiny-bert")
    password = make_password("soak-password")  # hashed once, shared: PBKDF2 per user is slow
    with transaction.atomic():
        admin = User.objects.create(
            username="soak-admin", password=password, is_staff=True, is_superuser=True
        )
        labeling = _project(name="Soak labeling", admin=admin)
        _add_pairs(
            labeling,
            [
                (
                    f"Soak question {i}: which is better?",
                    f"Answer a {i}. " * 8,
                    f"Answer b {i}. " * 8,
                )
                for i in range(args.tasks)
            ],
        )
        imports = _project(name="Soak imports", admin=admin)
        training = _project(name="Soak training", admin=admin)
        _label_for_training(training, admin, prompts=args.training_prompts)
        annotators = User.objects.bulk_create(
            [User(username=f"annotator{i:03d}", password=password) for i in range(args.annotators)]
        )
        Membership.objects.bulk_create(
            [Membership(project=labeling, user=u, role=Role.ANNOTATOR) for u in annotators]
        )
        tokens = [
            api_token_create(user=u, name="soak", scope=TokenScope.LABEL)[1] for u in annotators
        ]
        admin_token = api_token_create(user=admin, name="soak", scope=TokenScope.ADMIN)[1]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "labeling_project": labeling.pk,
        "imports_project": imports.pk,
        "training_project": training.pk,
        "model": f"base:{model.parent.name}/{model.name}",
        "tokens": tokens,
        "admin_token": admin_token,
        "job_tables": {kind.label: kind.model._meta.db_table for kind in job_kinds()},
        "seconds": round(time.monotonic() - started, 2),
    }


def _scalar(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def check(args) -> dict:
    from apps.imports.models import ImportJob

    acked = json.loads(Path(args.acked).read_text())  # [[assignment, judgment id], ...]
    project = args.project
    acked_ids = {judgment for _, judgment in acked}
    stored = set(Judgment.objects.filter(pk__in=acked_ids).values_list("pk", flat=True))
    # Every acknowledged judgment must be the one stored for its assignment: a resubmit that
    # answered 2xx with another row would mean two rows for one lease.
    per_assignment = (
        Judgment.objects.filter(project_id=project, assignment__isnull=False)
        .values("assignment")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count()
    )
    twice = _scalar(DOUBLE_JUDGED_SQL, {"project": project})
    jobs = {}
    for kind in job_kinds():
        model = kind.model
        counts = dict(model.objects.values_list("status").annotate(n=Count("pk")))
        reasons = list(
            model.objects.filter(status=JobStatus.FAILED).values_list("error", flat=True)[:5]
        )
        jobs[kind.label] = {
            "counts": counts,
            "failed_reasons": reasons,
            "more_than_one_attempt": model.objects.filter(attempts__gt=1).count(),
        }
    rows = json.loads(Path(args.imports).read_text())  # {import job id: rows in its file}
    imports = {"checked": 0, "doubled": 0, "partial": 0}
    for job in ImportJob.objects.filter(pk__in=[int(k) for k in rows]):
        prompts = Prompt.objects.filter(import_job=job).count()
        expected = rows[str(job.pk)] if job.status == JobStatus.SUCCEEDED else 0
        imports["checked"] += 1
        imports["doubled"] += prompts > rows[str(job.pk)]
        # A job that did not succeed leaves nothing behind; one that did, every row once.
        imports["partial"] += prompts != expected and prompts <= rows[str(job.pk)]
    return {
        "judgments": Judgment.objects.filter(project_id=project).count(),
        "acked": len(acked_ids),
        "lost": len(acked_ids - stored),
        "duplicated": twice + per_assignment,
        "over_assigned": _scalar(OVER_ASSIGNED_SQL, {"project": project}),
        "count_drift": _scalar(COUNT_DRIFT_SQL, {"project": project}),
        "stuck_jobs": sum(
            n for kind in jobs.values() for s, n in kind["counts"].items() if s in UNFINISHED
        ),
        "jobs": jobs,
        "imports": imports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed")
    p_seed.add_argument("--tasks", type=int, default=6000)
    p_seed.add_argument("--annotators", type=int, default=200)
    p_seed.add_argument("--training-prompts", type=int, default=40)
    p_seed.add_argument("--models", required=True)
    p_check = sub.add_parser("check")
    p_check.add_argument("--project", type=int, required=True)
    p_check.add_argument("--acked", required=True)
    p_check.add_argument("--imports", required=True)
    args = parser.parse_args()
    result = seed(args) if args.command == "seed" else check(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
