"""The benchmark's Django-side steps, each run in a fresh process with DATABASE_URL set:

    python bench/export/export_side.py seed --sizes 100000,1000000
    python bench/export/export_side.py export --project ID --out FILE [--kind pairs] [--writers]

`seed` creates the users, projects and memberships through the ORM, then the bulk rows with
INSERT ... SELECT generate_series; the column lists come from the models, and every column the
benchmark does not set gets its field's default, so new columns elsewhere do not break it. It
prints the project ids as JSON.

`export` streams the export as `apps.exports.files.jsonl_stream` does (what the JSONL download
sends: the plain pairs write their own lines, apps/exports/kinds/pairs.py; with `--writers` the
rows go through the generic Python writers instead, the path before) into FILE and prints one
JSON object: rows, sha256, seconds, rows_per_s, peak_mb, baseline_mb,
and the CPU seconds spent by this process (cpu_s, of which cpu_system_s in the kernel: mostly
writing the file) and by its PostgreSQL backend (db_cpu_s).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, models  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.corpus.models import Prompt, Response  # noqa: E402
from apps.exports.datasets import dataset_build  # noqa: E402
from apps.exports.files import dataset_jsonl_blocks, read_transaction  # noqa: E402
from apps.exports.options import parse_export_options  # noqa: E402
from apps.exports.writers import jsonl_blocks  # noqa: E402
from apps.feedback.models import Judgment  # noqa: E402
from apps.labeling.models import Task, TaskItem  # noqa: E402
from apps.projects.models import FeedbackKind, Membership, Project, Role  # noqa: E402

OVERLAP = 4
ANNOTATORS = 50
CLK_TCK = os.sysconf("SC_CLK_TCK")

# SQL per column, over `g` (the task number, = prompt id = task id) and `k` (the judgment's
# place among the task's OVERLAP judgments); %(...)s are the parameters of each statement.
PROMPT_SQL = {
    "id": "g",
    "project_id": "%(project)s",
    "messages": "jsonb_build_array(jsonb_build_object('role', 'user', 'content', "
    "'Benchmark question ' || g || ': which answer explains it better? ' "
    "|| repeat('Some context for the question. ', 4)))",
}
RESPONSE_SQL = {
    "id": "2 * g - 1 + s",
    "prompt_id": "g",
    "text": "'Answer ' || s || ' to question ' || g || '. ' "
    "|| repeat('It is a fairly long explanation, step by step. ', 8)",
    "source": "'model-' || s",
}
TASK_SQL = {
    "id": "g",
    "project_id": "%(project)s",
    "prompt_id": "g",
    "kind": "'pairwise'",
    "judgment_count": str(OVERLAP),
}
ITEM_SQL = {"id": "2 * g - 1 + s", "task_id": "g", "response_id": "2 * g - 1 + s", "position": "s"}
# 45% A, 45% B, 5% tie, 5% both bad; strengths cycle; four different annotators per task.
JUDGMENT_SQL = {
    "id": f"{OVERLAP} * (g - 1) + k + 1",
    "project_id": "%(project)s",
    "task_id": "g",
    "annotator_id": "%(first_annotator)s + (g + k) %% " + str(ANNOTATORS),
    "kind": "'pairwise'",
    "phase": "'main'",
    "payload": "CASE WHEN v < 9 THEN jsonb_build_object('choice', 'A', 'strength', strength) "
    "WHEN v < 18 THEN jsonb_build_object('choice', 'B', 'strength', strength) "
    "WHEN v = 18 THEN jsonb_build_object('choice', 'tie', 'strength', null) "
    "ELSE jsonb_build_object('choice', 'both_bad', 'strength', null) END",
    "display_order": "CASE WHEN k %% 2 = 0 THEN jsonb_build_array(2 * g - 1, 2 * g) "
    "ELSE jsonb_build_array(2 * g, 2 * g - 1) END",
    "started_at": "now() - interval '1 hour'",
    "duration_ms": "1000 + (g * 37 + k) %% 9000",
    "source": "'app'",
}
TASKS = "FROM generate_series(%(first)s, %(last)s) g"
PAIRS = TASKS + ", generate_series(0, 1) s"
JUDGMENTS = (
    TASKS + f", generate_series(0, {OVERLAP - 1}) k, LATERAL (SELECT (g * 7 + k * 13) %% 20 AS v, "
    "(ARRAY['negligibly', 'slightly', 'clearly', 'much'])[1 + (g + k) %% 4] AS strength) c"
)


def insert_select(model: type[models.Model], values: dict[str, str], source: str, params: dict):
    """INSERT INTO model's table SELECT `values` (SQL per column) `source`; other columns get
    NULL if nullable, now() if auto-timestamped, else the field's default."""
    columns, selects, params = [], [], dict(params)
    for field in model._meta.concrete_fields:
        column = field.column
        if column in values:
            columns.append(column)
            selects.append(values[column])
        elif field.primary_key or field.null:
            continue
        elif isinstance(field, models.DateTimeField):
            columns.append(column)
            selects.append("now()")
        else:
            columns.append(column)
            params[f"default_{column}"] = field.get_db_prep_save(field.get_default(), connection)
            selects.append(f"%(default_{column})s")
    sql = (
        f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)}) '
        f"SELECT {', '.join(selects)} {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def seed(sizes: list[int]) -> list[int]:
    admin = User.objects.create(username="bench-admin", is_staff=True, password="!")
    annotators = User.objects.bulk_create(
        [User(username=f"bench-annotator-{i}", password="!") for i in range(ANNOTATORS)]
    )
    first_annotator = min(a.pk for a in annotators)
    assert max(a.pk for a in annotators) == first_annotator + ANNOTATORS - 1
    projects, first = [], 1
    for judgments in sizes:
        started = time.perf_counter()
        project = Project.objects.create(
            name=f"bench {judgments:,} judgments",
            kind=FeedbackKind.PAIRWISE,
            overlap=OVERLAP,
            created_by=admin,
        )
        Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
        Membership.objects.bulk_create([Membership(project=project, user=a) for a in annotators])
        tasks = judgments // OVERLAP
        params = {
            "project": project.pk,
            "first": first,
            "last": first + tasks - 1,
            "first_annotator": first_annotator,
        }
        insert_select(Prompt, PROMPT_SQL, TASKS, params)
        insert_select(Response, RESPONSE_SQL, PAIRS, params)
        insert_select(Task, TASK_SQL, TASKS, params)
        insert_select(TaskItem, ITEM_SQL, PAIRS, params)
        insert_select(Judgment, JUDGMENT_SQL, JUDGMENTS, params)
        print(
            f"  seeded project {project.pk}: {tasks * OVERLAP:,} judgments on {tasks:,} tasks "
            f"in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        projects.append(project.pk)
        first += tasks
    with connection.cursor() as cursor:
        for model in (Prompt, Response, Task, TaskItem, Judgment):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        cursor.execute("VACUUM ANALYZE")
    return projects


def cpu_seconds(pid: int, *, system_only: bool = False) -> float:
    """User + system CPU of a process on this machine (or its system CPU alone), from /proc."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[12]) + (0 if system_only else int(fields[11]))) / CLK_TCK


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def export(*, project_id: int, out_path: str, kind: str, writers: bool = False) -> dict:
    project = Project.objects.get(pk=project_id)
    options = parse_export_options(kind=kind, project_kind=project.kind, data={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    baseline = rss_mb()
    own_cpu, db_cpu = cpu_seconds(os.getpid()), cpu_seconds(backend)
    own_system = cpu_seconds(os.getpid(), system_only=True)
    started = time.perf_counter()
    size = 0
    # The body of apps.exports.files.jsonl_stream, spelt out to read the stats at the end.
    with read_transaction(), open(out_path, "wb") as out:
        dataset = dataset_build(project=project, kind=kind, options=options)
        if writers:
            blocks = jsonl_blocks(dataset.columns, dataset.rows)
        else:
            blocks = dataset_jsonl_blocks(dataset)
        for block in blocks:
            out.write(block)
            size += len(block)
    seconds = time.perf_counter() - started
    own_cpu, db_cpu = cpu_seconds(os.getpid()) - own_cpu, cpu_seconds(backend) - db_cpu
    own_system = cpu_seconds(os.getpid(), system_only=True) - own_system
    rows, digest = 0, hashlib.sha256()
    with open(out_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            rows += block.count(b"\n")
            digest.update(block)
    return {
        "rows": rows,
        "sha256": digest.hexdigest(),
        "seconds": round(seconds, 3),
        "rows_per_s": rows / seconds,
        "mb_written": size / 2**20,
        "cpu_s": round(own_cpu, 2),
        "cpu_system_s": round(own_system, 2),
        "db_cpu_s": round(db_cpu, 2),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_mb": baseline,
        "skipped": dataset.stats.as_dict()["skipped"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed")
    seeding.add_argument("--sizes", required=True, help="Judgments per project, comma-separated.")
    exporting = commands.add_parser("export")
    exporting.add_argument("--project", type=int, required=True)
    exporting.add_argument("--out", required=True)
    exporting.add_argument("--kind", default="pairs")
    exporting.add_argument("--writers", action="store_true", help="The generic Python writers.")
    args = parser.parse_args()
    if args.command == "seed":
        result = seed([int(size) for size in args.sizes.split(",")])
    else:
        result = export(
            project_id=args.project, out_path=args.out, kind=args.kind, writers=args.writers
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
