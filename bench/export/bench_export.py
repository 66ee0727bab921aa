"""Benchmark: exporting 1,000,000 pairwise judgments from PostgreSQL to JSON Lines.

    python bench/export/bench_export.py [--judgments 1000000] [--small 100000] [--keep-db]
                                        [--compare]

What it does, start to end:
1. Creates a fresh database `arbiter_bench_export` (or $BENCH_DB_NAME) on PostgreSQL at 127.0.0.1:5432 (user
   postgres; dropped first if it exists) and migrates it.
2. Seeds it (bench/export/export_side.py seed): users, projects and memberships through the ORM,
   the bulk rows with INSERT ... SELECT generate_series: 50 annotators and two pairwise
   projects with overlap 4, one of `--small` judgments and one of `--judgments`. Each prompt has
   two responses (~400 characters each) and one task; its four judgments come from four
   different annotators; choices are 45% A, 45% B, 5% tie, 5% both bad, strengths mixed.
3. Exports each project in a fresh Python process (bench/export/export_side.py export) through the
   app's streaming JSONL export, the code path of GET /api/projects/{id}/exports/pairs.jsonl,
   writing the blocks to a file in /dev/shm where there is one (memory, as a download's socket
   would be: on this machine's ext4 the kernel's writing of 1 GB cost from 0.3 s to 2.8 s of
   system CPU from one run to the next). That process reports rows, seconds and its peak
   resident memory (ru_maxrss), and its resident memory before the export began.
   It also reports the CPU seconds of that process and of its PostgreSQL backend. The pairs'
   reader thread lets the two overlap once the server has sorted the judgments, so on an idle
   machine the wall-clock rate lies between rows per CPU second and about twice that.
   With --compare, the 1M project is exported once more through the generic Python writers
   (the path before the pairs wrote their own lines) and the two files' sha256 compared.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DB_NAME = os.environ.get("BENCH_DB_NAME", "arbiter_bench_export")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None


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


def django_side(*args: str, echo: bool = False) -> object:
    result = subprocess.run(
        [PYTHON, str(ROOT / "bench/export/export_side.py"), *args],
        cwd=ROOT,
        env=app_env(),
        stdout=subprocess.PIPE,
        stderr=None if echo else subprocess.PIPE,
        text=True,
    )
    if result.returncode:
        sys.exit(f"export_side.py {' '.join(args)} failed:\n{result.stderr or ''}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def export(project: int, out: Path, *extra: str) -> dict:
    return django_side("export", "--project", str(project), "--out", str(out), *extra)


def report(judgments: int, r: dict) -> None:
    print(
        f"  {judgments:>9,} judgments -> {r['rows']:>9,} rows, {r['mb_written']:.0f} MB "
        f"in {r['seconds']:.2f} s = {r['rows_per_s']:,.0f} rows/s; "
        f"peak RSS {r['peak_mb']:.0f} MB (before the export {r['baseline_mb']:.0f} MB)",
        flush=True,
    )
    busy = r["cpu_s"] + r["db_cpu_s"]
    print(
        f"{'':14}CPU: exporter {r['cpu_s']:.1f} s (system {r['cpu_system_s']:.1f} s) + PostgreSQL backend "
        f"{r['db_cpu_s']:.1f} s = {r['rows'] / busy:,.0f} rows per CPU second; "
        f"skipped judgments {r['skipped']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--compare", action="store_true", help="Also the generic writers.")
    args = parser.parse_args()

    print(f"Load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    print(f"Creating and migrating {DB_NAME} ...", flush=True)
    recreate_database()
    try:
        migrate()
        print("Seeding with bulk SQL ...", flush=True)
        small, large = django_side("seed", "--sizes", f"{args.small},{args.judgments}", echo=True)
        results = {}
        with tempfile.TemporaryDirectory(dir=SCRATCH) as folder:
            for label, project, judgments in (
                ("100k", small, args.small),
                ("1m", large, args.judgments),
            ):
                out = Path(folder) / f"{label}.jsonl"
                r = export(project, out)
                results[label] = r
                report(judgments, r)
                out.unlink()
            if args.compare:
                print("The 1M project through the generic Python writers:", flush=True)
                out = Path(folder) / "writers.jsonl"
                r = export(large, out, "--writers")
                out.unlink()
                report(args.judgments, r)
                same = r["sha256"] == results["1m"]["sha256"]
                print(f"  same bytes as the pairs' own lines: {same}", flush=True)
    finally:
        if not args.keep_db:
            drop_database()
    print(
        f"rows_per_s={results['1m']['rows_per_s']:.0f} "
        f"peak_mb_100k={results['100k']['peak_mb']:.0f} peak_mb_1m={results['1m']['peak_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
