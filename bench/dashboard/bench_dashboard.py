"""make bench-dashboard: the project overview and the run list at 100,000 and then 1,000,000
judgments in PostgreSQL (BENCH_SIZES=100000,1000000).

Seeds its own database (dropped at the end): the judgments are bulk-loaded as an import would be,
then `manage.py rollups_recount` builds the dashboard rollups. Both pages are rendered in-process
through Django's test client as a logged-in admin; the median of repeated renders is reported
at each size, and the last line is the largest size's."""

import os
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

# SQL per column over `g` (the task number: its prompt's and task's id) and `k` (the judgment's
# place among the task's OVERLAP), for bench/export's insert_select; %(...)s are parameters.
PROMPT_SQL = {
    "id": "g",
    "project_id": "%(project)s",
    "messages": "jsonb_build_array(jsonb_build_object('role', 'user', 'content', "
    "'Question ' || g || '?'))",
}
RESPONSE_SQL = {
    "id": "2 * g - 1 + s",
    "prompt_id": "g",
    "text": "'Answer ' || s || ' to ' || g",
    "source": "(ARRAY" + repr(MODELS) + ")[1 + (g * 5 + s) %% 4]",
}
TASK_SQL = {
    "id": "g",
    "project_id": "%(project)s",
    "prompt_id": "g",
    "kind": "'pairwise'",
    "judgment_count": str(OVERLAP),
    "is_gold": "g %% 50 = 0",
    "gold_payload": 'CASE WHEN g %% 50 = 0 THEN \'{"choice": "A", "strength": '
    '"clearly"}\'::jsonb END',
}
ITEM_SQL = {"id": "2 * g - 1 + s", "task_id": "g", "response_id": "2 * g - 1 + s", "position": "s"}
# 45% A, 40% B, 10% tie, 5% both bad (v); strengths cycle; two different annotators per task;
# half shown in swapped order; the derived facts as judgment_submit stores them
# (apps/feedback/facts.py); submitted over the last 30 days, hour by hour.
JUDGMENT_SQL = {
    "id": f"{OVERLAP} * (g - 1) + k + 1",
    "project_id": "%(project)s",
    "task_id": "g",
    "annotator_id": "%(first_annotator)s + who",
    "kind": "'pairwise'",
    "phase": "'main'",
    "payload": "jsonb_build_object('choice', choice, 'strength', "
    "CASE WHEN choice IN ('A', 'B') THEN (ARRAY" + repr(STRENGTHS) + ")[step] END)",
    "display_order": "CASE WHEN swapped = 0 THEN jsonb_build_array(2 * g - 1, 2 * g) "
    "ELSE jsonb_build_array(2 * g, 2 * g - 1) END",
    "first_shown_position": "swapped",
    "chosen_position": "CASE choice WHEN 'A' THEN 0 WHEN 'B' THEN 1 END",
    "chosen_response_id": "CASE choice WHEN 'A' THEN 2 * g - 1 WHEN 'B' THEN 2 * g END",
    "rejected_response_id": "CASE choice WHEN 'A' THEN 2 * g WHEN 'B' THEN 2 * g - 1 END",
    "signed_strength": "CASE choice WHEN 'A' THEN step WHEN 'B' THEN -step WHEN 'tie' THEN 0 END",
    "submitted_at": "%(now)s::timestamptz - ((2 * g + k) %% 720) * interval '1 hour'",
    "duration_ms": "2000 + (g * 37 + k * 101) %% 38000",
    "source": "'app'",
}
TASKS = "FROM generate_series(%(first)s, %(last)s) g"
PAIRS = TASKS + ", generate_series(0, 1) s"
JUDGMENTS = (
    TASKS + f", generate_series(0, {OVERLAP - 1}) k, LATERAL (SELECT "
    "CASE WHEN v < 9 THEN 'A' WHEN v < 17 THEN 'B' WHEN v < 19 THEN 'tie' ELSE 'both_bad' END "
    "AS choice, 1 + (g * 3 + k) %% 4 AS step, ((g * 13 + k * 7) / 3) %% 2 AS swapped, "
    "CASE WHEN k = 0 THEN (g * 7) %% 20 ELSE ((g * 7) %% 20 + 1 + (g * 3) %% 19) %% 20 END "
    "AS who FROM (SELECT (g * 7 + k * 13) %% 20 AS v) r) c"
)


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


def seed_judgments(project, annotators, *, first: int, last: int) -> None:
    """Tasks first+1..last with OVERLAP judgments each, built in SQL (INSERT ... SELECT
    generate_series, bench/export's way), then the rollups recounted. Row g is task g's prompt
    and task; responses and task items 2g-1 and 2g; judgments 2g-1 and 2g."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from apps.corpus.models import Prompt, Response
    from apps.feedback.models import Judgment
    from apps.labeling.models import Task, TaskItem
    from bench.export.export_side import insert_select

    ids = sorted(a.pk for a in annotators)
    assert ids == list(range(ids[0], ids[0] + ANNOTATORS))
    params = {"project": project.pk, "first": first + 1, "last": last,
              "first_annotator": ids[0], "now": timezone.now()}  # fmt: skip
    insert_select(Prompt, PROMPT_SQL, TASKS, params)
    insert_select(Response, RESPONSE_SQL, PAIRS, params)
    insert_select(Task, TASK_SQL, TASKS, params)
    insert_select(TaskItem, ITEM_SQL, PAIRS, params)
    insert_select(Judgment, JUDGMENT_SQL, JUDGMENTS, params)
    with connection.cursor() as cursor:
        for model in (Prompt, Response, Task, TaskItem, Judgment):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")  # fmt: skip
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
        seeded, measured = 0, {}
        for size in SIZES:
            started = time.perf_counter()
            seed_judgments(project, annotators, first=seeded // OVERLAP, last=size // OVERLAP)
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
