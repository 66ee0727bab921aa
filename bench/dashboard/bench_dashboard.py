"""make bench-dashboard: the project overview and the run list at 100,000 and then 1,000,000
judgments in PostgreSQL (BENCH_SIZES=100000,1000000).

Seeds its own database (dropped at the end): the judgments are bulk-loaded as an import would be,
then `manage.py rollups_recount` builds the dashboard rollups. Both pages are rendered in-process
through Django's test client as a logged-in admin; the median of repeated renders is reported
at each size, and the last line is the largest size's."""

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = os.environ.get("BENCH_DB_NAME", "arbiter_bench_dashboard")
PG = "postgres://postgres@127.0.0.1:5432"
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "100000,1000000").split(",")]
OVERLAP, ANNOTATORS, MODELS = 2, 20, ["careful-7b", "terse-3b", "hasty-1b", "tiny-0.5b"]
STRENGTHS = ["negligibly", "slightly", "clearly", "much"]


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql],
        check=True,
        capture_output=True,
    )


def setup_database() -> None:
    try:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        psql(f"CREATE DATABASE {DB_NAME}")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        sys.exit(f"PostgreSQL at 127.0.0.1:5432 is needed for this benchmark: {exc}")
    os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed():
    """The project, its annotators and its training runs."""
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.projects.models import Membership, Project, Role
    from apps.training.models import RunMetric, RunStatus, TrainingRun

    admin = User.objects.create_user("bench-admin", password="bench-pass", is_staff=True)
    project = Project.objects.create(
        name="bench", kind="pairwise", overlap=OVERLAP, created_by=admin
    )
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    annotators = [User.objects.create_user(f"annotator{i}") for i in range(ANNOTATORS)]
    Membership.objects.bulk_create([Membership(project=project, user=u) for u in annotators])
    now = timezone.now()
    runs = []
    for i in range(20):
        status = [RunStatus.SUCCEEDED, RunStatus.RUNNING, RunStatus.FAILED][i % 3]
        runs.append(TrainingRun(project=project, objective="reward_pairwise", family="reward", config={},
                                status=status, step=200, total_steps=200, created_by=admin,
                                metrics={"pairwise_accuracy": 0.7}, started_at=now - timedelta(hours=i)))  # fmt: skip
    runs = TrainingRun.objects.bulk_create(runs)
    RunMetric.objects.bulk_create(
        [
            RunMetric(run=r, step=s, name="loss", value=1 / (s + 1))
            for r in runs
            for s in range(200)
        ],
        batch_size=5000,
    )
    return project, admin, annotators


def seed_judgments(project, annotators, *, first: int, last: int, rng) -> None:
    """Tasks first..last-1 with OVERLAP judgments each, bulk-loaded, then the rollups recounted."""
    from django.core.management import call_command
    from django.utils import timezone

    from apps.corpus.models import Prompt, Response
    from apps.feedback.facts import derived_facts
    from apps.feedback.models import Judgment
    from apps.labeling.models import Task, TaskItem

    prompts = Prompt.objects.bulk_create(
        [
            Prompt(project=project, messages=[{"role": "user", "content": f"Question {i}?"}])
            for i in range(first, last)
        ],
        batch_size=5000,
    )
    responses = Response.objects.bulk_create(
        [
            Response(prompt=p, text=f"Answer {k} to {p.pk}", source=rng.choice(MODELS))
            for p in prompts
            for k in range(2)
        ],
        batch_size=5000,
    )
    tasks = Task.objects.bulk_create(
        [Task(project=project, prompt=p, kind="pairwise", judgment_count=OVERLAP, is_gold=i % 50 == 0,
              gold_payload={"choice": "A", "strength": "clearly"} if i % 50 == 0 else None)
         for i, p in enumerate(prompts, start=first)],
        batch_size=5000,
    )  # fmt: skip
    TaskItem.objects.bulk_create(
        [
            TaskItem(task=t, response=responses[2 * i + k], position=k)
            for i, t in enumerate(tasks)
            for k in range(2)
        ],
        batch_size=5000,
    )
    now = timezone.now()
    judgments = []
    for i, task in enumerate(tasks):
        a, b = responses[2 * i].pk, responses[2 * i + 1].pk
        for who in rng.sample(annotators, OVERLAP):
            choice = rng.choices(["A", "B", "tie", "both_bad"], weights=[45, 40, 10, 5])[0]
            order = [a, b] if rng.random() < 0.5 else [b, a]
            chosen = {"A": 0, "B": 1}.get(choice)
            payload = {
                "choice": choice,
                "strength": rng.choice(STRENGTHS) if chosen is not None else None,
            }
            # The same derived facts that judgment_submit stores.
            facts = derived_facts(payload=payload, display_order=order, position_of={a: 0, b: 1})
            judgments.append(
                Judgment(
                    project=project, task=task, annotator=who, kind="pairwise", payload=payload,
                    display_order=order, duration_ms=rng.randint(2000, 40000), **facts,
                )
            )  # fmt: skip
        if len(judgments) >= 10000:
            Judgment.objects.bulk_create(judgments, batch_size=5000)
            judgments = []
    Judgment.objects.bulk_create(judgments, batch_size=5000)
    # Spread the judgments over the last 30 days, as a real project's would be.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE feedback_judgment SET submitted_at = %s - (id %% 30) * interval '1 day' "
            "WHERE task_id >= %s",
            [now, tasks[0].pk],
        )
        cursor.execute("ANALYZE")
    call_command("rollups_recount", "--project", str(project.pk), verbosity=0)


def timed_get(client, url: str, repeats: int) -> list[float]:
    for _ in range(2):  # warm-up: connections, template loading
        assert client.get(url).status_code == 200
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    return times


def main() -> None:
    setup_database()
    try:
        from django.test import Client

        project, admin, annotators = seed()
        client = Client()
        client.force_login(admin)
        overview_url, runs_url = (
            f"/projects/{project.pk}/dashboard/",
            f"/projects/{project.pk}/runs/",
        )
        rng, seeded, measured = random.Random(0), 0, {}
        for size in SIZES:
            started = time.perf_counter()
            seed_judgments(
                project, annotators, first=seeded // OVERLAP, last=size // OVERLAP, rng=rng
            )
            seeded = size
            print(f"seeded {size:,} judgments (rollups recounted) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            overview = timed_get(client, overview_url, 10)
            runs = timed_get(client, runs_url, 10)
            measured[size] = (statistics.median(overview), statistics.median(runs))
            print(f"{size:,} judgments: overview median {statistics.median(overview):.0f} ms, "
                  f"max {max(overview):.0f} ms; run list median {statistics.median(runs):.0f} ms "
                  "over 10 renders", flush=True)  # fmt: skip
        largest, smallest = SIZES[-1], SIZES[0]
        print(
            f"judgments={largest} overview_ms={measured[largest][0]:.0f} "
            f"overview_ms_{smallest // 1000}k={measured[smallest][0]:.0f} "
            f"runs_ms={measured[largest][1]:.0f}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        if not os.environ.get("BENCH_KEEP_DB"):
            psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
