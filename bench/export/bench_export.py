"""Benchmark: exporting 1,000,000 pairwise judgments from PostgreSQL to JSON Lines.

    python bench/export/bench_export.py [--judgments 1000000] [--small 100000] [--keep-db]

What it does, start to end:
1. Creates a fresh database `arbiter_bench_export` on PostgreSQL at 127.0.0.1:5432 (user
   postgres; dropped first if it exists) and migrates it.
2. Seeds it with bulk SQL (INSERT ... SELECT generate_series): 50 annotators and two pairwise
   projects with overlap 4, one of `--small` judgments and one of `--judgments`. Each prompt has
   two responses (~400 characters each) and one task; its four judgments come from four
   different annotators; choices are 45% A, 45% B, 5% tie, 5% both bad, strengths mixed.
3. Exports each project in a fresh Python process (bench/export/export_side.py) through the
   app's streaming JSONL export, the code path of GET /api/projects/{id}/exports/pairs.jsonl,
   writing the blocks to a file. That process reports rows, seconds and its peak resident memory
   (ru_maxrss), and its resident memory before the export began.
   It also reports the CPU seconds of that process and of its PostgreSQL backend: the two work
   in turn, so rows per CPU second is what the wall-clock rate approaches on an idle machine.
4. Drops the database (unless --keep-db) and prints one line:
   rows_per_s=<1M export> peak_mb_100k=<n> peak_mb_1m=<n>

Ties and both-bad judgments are not pairs, so each export has ~90% of the judgment count in
rows; rows per second counts rows written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DB_NAME = "arbiter_bench_export"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
OVERLAP = 4
ANNOTATORS = 50


def pg_connect(dbname: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, connect_timeout=5, **PG)
    conn.autocommit = True
    return conn


def recreate_database() -> None:
    conn = pg_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        conn.close()


def drop_database() -> None:
    conn = pg_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    finally:
        conn.close()


def app_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("ARBITER_PRODUCTION", "CONN_MAX_AGE")}
    env.update(DATABASE_URL=DATABASE_URL, DEBUG="false", LOG_LEVEL="WARNING")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def migrate() -> None:
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=app_env(),
        check=True,
    )


SEED_USERS = """
INSERT INTO accounts_user (id, password, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined)
SELECT g, '!', g = 1, 'bench' || g, '', '', '', g = 1, true, now()
FROM generate_series(1, %(users)s) g;
"""

SEED_PROJECT = """
INSERT INTO projects_project (id, name, description, guidelines, kind, overlap, pair_strategy,
    max_pairs_per_prompt, critique_policy, critique_min_length, gold_rate, show_suggestions,
    generation_backend, created_by_id, created_at)
VALUES (%(project)s, %(name)s, '', '', 'pairwise', %(overlap)s, 'all', 6, 'optional', 0, 0,
        false, '{}', 1, now());
INSERT INTO projects_membership (project_id, user_id, role)
SELECT %(project)s, g, CASE WHEN g = 1 THEN 'admin' ELSE 'annotator' END
FROM generate_series(1, %(users)s) g;
INSERT INTO corpus_prompt (id, project_id, external_id, messages, metadata, created_at)
SELECT g, %(project)s, '', jsonb_build_array(jsonb_build_object('role', 'user', 'content',
       'Benchmark question ' || g || ': which answer explains it better? '
       || repeat('Some context for the question. ', 4))), '{}', now()
FROM generate_series(%(first)s, %(last)s) g;
INSERT INTO corpus_response (id, prompt_id, text, source, metadata, created_at)
SELECT 2 * g - 1 + s, g, 'Answer ' || s || ' to question ' || g || '. '
       || repeat('It is a fairly long explanation, step by step. ', 8), 'model-' || s, '{}', now()
FROM generate_series(%(first)s, %(last)s) g, generate_series(0, 1) s;
INSERT INTO labeling_task (id, project_id, prompt_id, kind, consequence, context, is_gold,
                           priority, judgment_count, created_at)
SELECT g, %(project)s, g, 'pairwise', '', '{}', false, 0, %(overlap)s, now()
FROM generate_series(%(first)s, %(last)s) g;
INSERT INTO labeling_taskitem (id, task_id, response_id, position)
SELECT 2 * g - 1 + s, g, 2 * g - 1 + s, s
FROM generate_series(%(first)s, %(last)s) g, generate_series(0, 1) s;
INSERT INTO feedback_judgment (id, project_id, task_id, annotator_id, kind, phase, payload,
    critique, display_order, started_at, submitted_at, duration_ms, source, source_name)
SELECT %(overlap)s * (g - 1) + k + 1, %(project)s, g, 2 + (g + k) %% %(annotators)s,
       'pairwise', 'main',
       CASE WHEN v < 9 THEN jsonb_build_object('choice', 'A', 'strength', strength)
            WHEN v < 18 THEN jsonb_build_object('choice', 'B', 'strength', strength)
            WHEN v = 18 THEN jsonb_build_object('choice', 'tie', 'strength', null)
            ELSE jsonb_build_object('choice', 'both_bad', 'strength', null) END,
       '', CASE WHEN k %% 2 = 0 THEN jsonb_build_array(2 * g - 1, 2 * g)
                ELSE jsonb_build_array(2 * g, 2 * g - 1) END,
       now() - interval '1 hour', now(), 1000 + (g * 37 + k) %% 9000, 'app', ''
FROM generate_series(%(first)s, %(last)s) g, generate_series(0, %(overlap)s - 1) k,
     LATERAL (SELECT (g * 7 + k * 13) %% 20 AS v,
                     (ARRAY['negligibly', 'slightly', 'clearly', 'much'])[1 + (g + k) %% 4]
                     AS strength) c;
"""


def seed(sizes: list[int]) -> list[int]:
    """One project per size (a count of judgments); returns the project ids."""
    conn = pg_connect(DB_NAME)
    projects, first = [], 1
    try:
        with conn.cursor() as cur:
            cur.execute(SEED_USERS, {"users": ANNOTATORS + 1})
            for number, judgments in enumerate(sizes, start=1):
                tasks = judgments // OVERLAP
                started = time.perf_counter()
                cur.execute(
                    SEED_PROJECT,
                    {
                        "project": number,
                        "name": f"bench {judgments:,} judgments",
                        "overlap": OVERLAP,
                        "users": ANNOTATORS + 1,
                        "annotators": ANNOTATORS,
                        "first": first,
                        "last": first + tasks - 1,
                    },
                )
                print(
                    f"  seeded project {number}: {tasks * OVERLAP:,} judgments on {tasks:,} tasks "
                    f"in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                projects.append(number)
                first += tasks
            for table in (
                "accounts_user",
                "projects_project",
                "projects_membership",
                "corpus_prompt",
                "corpus_response",
                "labeling_task",
                "labeling_taskitem",
                "feedback_judgment",
            ):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    return projects


def export(project: int, out: Path) -> dict:
    result = subprocess.run(
        [
            PYTHON,
            str(ROOT / "bench/export/export_side.py"),
            "--project",
            str(project),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=app_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    print(f"Load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    print(f"Creating and migrating {DB_NAME} ...", flush=True)
    recreate_database()
    try:
        migrate()
        print("Seeding with bulk SQL ...", flush=True)
        small, large = seed([args.small, args.judgments])
        results = {}
        with tempfile.TemporaryDirectory() as folder:
            for label, project, judgments in (
                ("100k", small, args.small),
                ("1m", large, args.judgments),
            ):
                out = Path(folder) / f"{label}.jsonl"
                r = export(project, out)
                results[label] = r
                print(
                    f"  {judgments:>9,} judgments -> {r['rows']:>9,} rows, {r['mb_written']:.0f} MB "
                    f"in {r['seconds']:.2f} s = {r['rows_per_s']:,.0f} rows/s; "
                    f"peak RSS {r['peak_mb']:.0f} MB (before the export {r['baseline_mb']:.0f} MB)",
                    flush=True,
                )
                busy = r["cpu_s"] + r["db_cpu_s"]
                print(
                    f"{'':14}CPU: exporter {r['cpu_s']:.1f} s + PostgreSQL backend "
                    f"{r['db_cpu_s']:.1f} s = {r['rows'] / busy:,.0f} rows per CPU second; "
                    f"skipped judgments {r['skipped']}",
                    flush=True,
                )
                out.unlink()
    finally:
        if not args.keep_db:
            drop_database()
    print(
        f"rows_per_s={results['1m']['rows_per_s']:.0f} "
        f"peak_mb_100k={results['100k']['peak_mb']:.0f} peak_mb_1m={results['1m']['peak_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
