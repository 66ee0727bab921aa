"""Where a request's server time goes: drives the WSGI application in-process (no HTTP, no
gunicorn), one annotator, next + submit, and reports per-request CPU and wall time, the SQL
statements and their database time, and optionally a cProfile of the Django side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arbiter_bench \\
        python bench/labeling/profile_server.py --project 4 --token <key> [--token <key> ...] \\
            [--cycles 300] [--cprofile]

Run it against a database the benchmark seeded (`bench_labeling.py --keep-db`). Set
BENCH_VARIANT to try a settings variant (see bench/labeling/settings_variants.py).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.labeling.settings_variants"

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402

VARIANTS = {v for v in os.environ.get("BENCH_VARIANT", "").split(",") if v}


def apply_code_variants() -> None:
    """What-if changes to the app's code, patched in memory here (the app is not edited):

    - lean_shape: validate a pairwise payload against len(assignment.display_order) instead of
      task_shape()'s three queries (items with response texts, principles, rubric items)
    - no_refresh: skip task.refresh_from_db() after the SKIP LOCKED claim (FOR UPDATE already
      returns the newest committed row version in READ COMMITTED)
    """
    from apps.feedback import payloads
    from apps.feedback import services as feedback_services
    from apps.labeling import services as labeling_services

    if "lean_shape" in VARIANTS:

        def lean_task_shape(*, task):
            return payloads.TaskShape(response_texts=("", ""))

        feedback_services.task_shape = lean_task_shape
    if "no_refresh" in VARIANTS:
        original = labeling_services._lock_next_candidate

        def lock_without_refresh(**kwargs):
            task = original(**kwargs)
            if task is not None:
                task.refresh_from_db = lambda **kw: None
            return task

        labeling_services._lock_next_candidate = lock_without_refresh


apply_code_variants()

BODY = json.dumps({"payload": {"choice": "A", "strength": "clearly"}, "duration_ms": 1000}).encode()


class QueryTimer:
    """execute_wrapper that counts statements and the wall time spent waiting on PostgreSQL."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def backend_cpu_s(pid: int) -> float:
    """The CPU seconds (user + system) of PostgreSQL's backend process `pid` so far (the
    database runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def environ(path: str, token: str, body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call(app, path: str, token: str, body: bytes = b"") -> tuple[str, bytes]:
    status_holder = {}

    def start_response(status, headers, exc_info=None):
        status_holder["status"] = status

    chunks = app(environ(path, token, body), start_response)
    data = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return status_holder["status"], data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument(
        "--token",
        required=True,
        action="append",
        help="an annotator's token; give as many as the project's overlap, and they take turns, "
        "so that tasks fill as under load (one annotator alone passes over more and more tasks "
        "it has seen)",
    )
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    app = WSGIHandler()
    timers = {"next": QueryTimer(), "submit": QueryTimer()}
    cpu = {"next": 0.0, "submit": 0.0}
    pg_cpu = {"next": 0.0, "submit": 0.0}
    wall = {"next": 0.0, "submit": 0.0}
    profiler = cProfile.Profile() if args.cprofile else None

    turns = itertools.cycle(args.token)
    token = args.token[0]

    def timed(kind, path, body=b""):
        backend = connection.connection.info.backend_pid
        c0, w0, p0 = time.process_time(), time.perf_counter(), backend_cpu_s(backend)
        with connection.execute_wrapper(timers[kind]):
            status, data = call(app, path, token, body)
        cpu[kind] += time.process_time() - c0
        wall[kind] += time.perf_counter() - w0
        pg_cpu[kind] += backend_cpu_s(backend) - p0
        return status, data

    # Warm up: imports, URL resolver, first connection.
    for _ in range(5):
        for token in args.token:
            status, data = call(app, f"/api/projects/{args.project}/tasks/next/", token)
            assignment = json.loads(data)["assignment"]
            call(app, f"/api/assignments/{assignment}/judgment/", token, BODY)
    done = 0
    if profiler:
        profiler.enable()
    for _ in range(args.cycles):
        token = next(turns)
        status, data = timed("next", f"/api/projects/{args.project}/tasks/next/")
        if not status.startswith("200"):
            break
        assignment = json.loads(data)["assignment"]
        status, _ = timed("submit", f"/api/assignments/{assignment}/judgment/", BODY)
        assert status.startswith("201"), status
        done += 1
    if profiler:
        profiler.disable()
    n = max(1, done)
    print(f"variant={os.environ.get('BENCH_VARIANT', 'baseline')} cycles={done}")
    for kind in ("next", "submit"):
        t = timers[kind]
        print(
            f"  {kind:6} wall {wall[kind] / n * 1000:5.2f} ms  python cpu {cpu[kind] / n * 1000:5.2f} ms"
            f"  sql {t.count / n:4.1f} statements, {t.seconds / n * 1000:5.2f} ms waiting on db"
            f"  postgres cpu {pg_cpu[kind] / n * 1000:5.2f} ms"
        )
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
