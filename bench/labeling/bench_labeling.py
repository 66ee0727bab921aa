"""Benchmark: the annotator loop (next task, then submit) over HTTP against gunicorn + PostgreSQL.

    python bench/labeling/bench_labeling.py [--levels 1,8,32] [--duration 12] [--warmup 2]
        [--workers 2] [--threads 4] [--tasks 4000] [--think-ms 0] [--keep-db]

What it does, start to end:
1. Creates a fresh database `arbiter_bench` on PostgreSQL at 127.0.0.1:5432 (dropped first if
   it exists) and migrates it.
2. Seeds it through the app's models and services (bench/labeling/django_side.py): a staff admin,
   one pairwise project with overlap 3 per concurrency level (plus one for the query profile),
   each with `--tasks` tasks, 32 annotators who are members of every project, a DRF token each.
3. Starts gunicorn (gthread) on a free port, DEBUG=false, persistent DB connections.
4. For each level, N threads (one annotator each, its own keep-alive HTTP connection, stdlib
   http.client to keep the load generator light) loop: POST /api/projects/<id>/tasks/next/,
   then POST /api/assignments/<id>/judgment/. Closed loop, no think time unless --think-ms.
   Each level has its own fresh project, so no level runs out of tasks. Latencies count the
   requests started inside the measured window (after the warm-up); judgments/s counts the
   judgments stored (201) inside it.
5. After each level, checks the database: tasks whose judgments plus live leases exceed the
   overlap, and (task, annotator) pairs judged twice.
6. Then (unless --rules-pairs 0), on one more project, phases with autopilot's training rules
   switched off and on, interleaved, with a rules checker running: CPU per judgment of each
   (bench/labeling/rules_on_off.py).
7. Stops gunicorn, counts SQL statements per request (Django test client), drops the database.

Latency columns: `next` and `submit` are single HTTP requests; `request` pools both; `cycle`
is next + submit, one judgment. The last line reports the 32-client level's per-request p99.
CPU columns are CPU milliseconds spent per judgment by this load generator, the gunicorn
processes and the PostgreSQL backends, read from /proc over the measured window; `other` is
machine CPU spent by anything else in that window (noise from other work on the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DB_NAME = os.environ.get("ARBITER_BENCH_DB", "arbiter_bench")  # a shared machine: one each
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
JUDGMENT_BODY = json.dumps(
    {"payload": {"choice": "A", "strength": "clearly"}, "duration_ms": 1000}
).encode()
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- database


def pg_connect(dbname: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, connect_timeout=5, **PG)
    conn.autocommit = True
    return conn


def recreate_database() -> None:
    conn = pg_connect()  # not `with conn`: psycopg2 would open a transaction block
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
    # The benchmark's annotators label as fast as the server answers: no API throttle.
    env.update(ARBITER_API_RATE_USER="off", ARBITER_API_RATE_ANON="off")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def django_side(*args: str) -> dict:
    out = subprocess.run(
        [PYTHON, str(ROOT / "bench/labeling/django_side.py"), *args],
        cwd=ROOT,
        env=app_env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


OVER_ASSIGNED_SQL = """
SELECT count(*) FROM labeling_task t
JOIN projects_project p ON p.id = t.project_id
WHERE t.project_id = %(project)s AND (
    (SELECT count(*) FROM feedback_judgment j WHERE j.task_id = t.id AND j.phase <> 'foresight')
  + (SELECT count(*) FROM labeling_assignment a
     WHERE a.task_id = t.id AND a.status = 'active' AND a.expires_at > now())
  > p.overlap
  OR t.judgment_count
  + (SELECT count(*) FROM labeling_assignment a
     WHERE a.task_id = t.id AND a.status = 'active' AND a.expires_at > now())
  > p.overlap)
"""
DOUBLE_JUDGED_SQL = """
SELECT count(*) FROM (
    SELECT task_id, annotator_id FROM feedback_judgment
    WHERE project_id = %(project)s AND phase <> 'foresight'
    GROUP BY task_id, annotator_id HAVING count(*) > 1) AS twice
"""
COUNT_DRIFT_SQL = """
SELECT count(*) FROM labeling_task t
WHERE t.project_id = %(project)s AND t.judgment_count <> (
    SELECT count(*) FROM feedback_judgment j WHERE j.task_id = t.id AND j.phase <> 'foresight')
"""


def integrity(conn, project: int) -> dict:
    with conn.cursor() as cur:
        result = {}
        for name, sql in (
            ("over_assigned", OVER_ASSIGNED_SQL),
            ("double_judged", DOUBLE_JUDGED_SQL),
            ("count_drift", COUNT_DRIFT_SQL),
        ):
            cur.execute(sql, {"project": project})
            result[name] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM feedback_judgment WHERE project_id = %s", (project,))
        result["judgments_total"] = cur.fetchone()[0]
    return result


# ---------------------------------------------------------------- CPU accounting (/proc)


def proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            kids += [int(p) for p in (task / "children").read_text().split()]
    return kids


def machine_busy_s() -> float:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts[:8]) - idle) / CLK_TCK


@dataclass
class CpuSnapshot:
    client: float
    server: float
    pg: float
    machine: float
    workers: dict[int, float]

    @classmethod
    def take(cls, gunicorn_pid: int, pg_pids: list[int]) -> CpuSnapshot:
        workers = {pid: proc_cpu_s(pid) for pid in children(gunicorn_pid)}
        return cls(
            client=time.process_time(),
            server=proc_cpu_s(gunicorn_pid) + sum(workers.values()),
            pg=sum(proc_cpu_s(p) for p in pg_pids),
            machine=machine_busy_s(),
            workers=workers,
        )


def pg_backend_pids(conn) -> list[int]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (DB_NAME,),
        )
        return [row[0] for row in cur.fetchall()]


# ---------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    *, port: int, workers: int, threads: int, keep_alive: int, log: Path
) -> subprocess.Popen:
    cmd = [
        PYTHON,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--keep-alive",
        str(keep_alive),
        "--backlog",
        "256",
        "--log-level",
        "warning",
        "--error-logfile",
        str(log),
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=app_env(), start_new_session=True, stdout=subprocess.DEVNULL
    )


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until_up(port: int, token: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/projects/", headers={"Authorization": f"Token {token}"})
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


# ---------------------------------------------------------------- load generator


@dataclass
class ClientStats:
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    cycle_ms: list[float] = field(default_factory=list)
    judgments: int = 0  # submits answered 201 inside the window
    errors: dict = field(default_factory=dict)
    ran_out: bool = False


class Annotator(threading.Thread):
    def __init__(self, *, port, token, project, window, stop, think_s):
        super().__init__(daemon=True)
        self.port, self.project, self.window, self.stop, self.think_s = (
            port,
            project,
            window,
            stop,
            think_s,
        )
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.stats = ClientStats()
        self.conn = None

    def _error(self, what: str) -> None:
        self.stats.errors[what] = self.stats.errors.get(what, 0) + 1

    def _post(self, path: str, body: bytes | None) -> tuple[int, bytes, float, float]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        started = time.perf_counter()
        try:
            self.conn.request("POST", path, body=body or b"", headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        return response.status, data, started, time.perf_counter()

    def run(self) -> None:
        start, end = self.window
        next_path = f"/api/projects/{self.project}/tasks/next/"
        while not self.stop.is_set():
            try:
                status, data, t0, t1 = self._post(next_path, None)
                if status == 204:
                    self.stats.ran_out = True
                    return
                if status != 200:
                    self._error(f"next {status}")
                    time.sleep(0.01)
                    continue
                assignment = json.loads(data)["assignment"]
                status, _, t2, t3 = self._post(
                    f"/api/assignments/{assignment}/judgment/", JUDGMENT_BODY
                )
            except (OSError, http.client.HTTPException) as exc:
                self._error(type(exc).__name__)
                time.sleep(0.05)
                continue
            if status != 201:
                self._error(f"submit {status}")
            # Latency: requests that started inside the window, however long they took.
            # Throughput: judgments stored (201) inside the window.
            if start <= t0 < end:
                self.stats.next_ms.append((t1 - t0) * 1000)
                self.stats.cycle_ms.append((t3 - t0) * 1000)
            if start <= t2 < end:
                self.stats.submit_ms.append((t3 - t2) * 1000)
            if start <= t3 < end:
                self.stats.judgments += status == 201
            if self.think_s:
                time.sleep(self.think_s)
        if self.conn is not None:
            self.conn.close()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[rank]


def triple(values: list[float]) -> str:
    return "/".join(f"{pct(values, q):.0f}" if values else "-" for q in (50, 95, 99))


def run_level(
    *, clients, port, tokens, project, warmup, duration, think_s, gunicorn_pid, pg_conn
) -> dict:
    stop = threading.Event()
    now = time.perf_counter()
    window = (now + warmup, now + warmup + duration)
    annotators = [
        Annotator(
            port=port, token=tokens[i], project=project, window=window, stop=stop, think_s=think_s
        )
        for i in range(clients)
    ]
    for a in annotators:
        a.start()
    time.sleep(max(0.0, window[0] - time.perf_counter()))
    pg_pids = pg_backend_pids(pg_conn)
    before = CpuSnapshot.take(gunicorn_pid, pg_pids)
    time.sleep(max(0.0, window[1] - time.perf_counter()))
    after = CpuSnapshot.take(gunicorn_pid, pg_pids)
    stop.set()
    for a in annotators:
        a.join(timeout=120)
    stats = [a.stats for a in annotators]
    next_ms = [v for s in stats for v in s.next_ms]
    submit_ms = [v for s in stats for v in s.submit_ms]
    judgments = sum(s.judgments for s in stats)
    errors: dict = {}
    for s in stats:
        for k, v in s.errors.items():
            errors[k] = errors.get(k, 0) + v
    per = max(1, judgments)
    client_cpu = after.client - before.client
    server_cpu = after.server - before.server
    pg_cpu = after.pg - before.pg
    other_cpu = (after.machine - before.machine) - client_cpu - server_cpu - pg_cpu
    worker_cpu = sorted(
        (after.workers[pid] - before.workers.get(pid, 0.0) for pid in after.workers),
        reverse=True,
    )
    return {
        "clients": clients,
        "judgments": judgments,
        "judgments_per_s": judgments / duration,
        "next_ms": next_ms,
        "submit_ms": submit_ms,
        "request_ms": next_ms + submit_ms,
        "cycle_ms": [v for s in stats for v in s.cycle_ms],
        "errors": errors,
        "ran_out": any(s.ran_out for s in stats),
        "cpu_ms_per_judgment": {
            "client": client_cpu * 1000 / per,
            "server": server_cpu * 1000 / per,
            "pg": pg_cpu * 1000 / per,
            "other": max(0.0, other_cpu) * 1000 / per,
        },
        "worker_cpu_share": [w / max(1e-9, sum(worker_cpu)) for w in worker_cpu],
        "machine_cpu_util": (after.machine - before.machine) / duration / (os.cpu_count() or 1),
        **integrity(pg_conn, project),
    }


# ---------------------------------------------------------------- report


def capacity(r: dict) -> float:
    """Judgments/s the machine's CPUs would allow at this level's CPU cost per judgment (client,
    gunicorn and PostgreSQL), were nothing else running: robust to noise from other work."""
    cpu = r["cpu_ms_per_judgment"]
    spent = cpu["client"] + cpu["server"] + cpu["pg"]
    return (os.cpu_count() or 1) * 1000 / spent if spent > 0 else float("nan")


def print_report(results: list[dict], *, config: str, queries: dict | None) -> None:
    print()
    print(f"Arbiter labeling benchmark — {config}")
    print("latency in ms, p50/p95/p99; `request` pools next and submit; `cycle` = next + submit")
    print(
        "cpu: CPU ms per judgment of this load generator/gunicorn/PostgreSQL/everything else; "
        "cap/s: judgments/s the CPUs allow at that cost with nothing else running"
    )
    header = (
        f"{'clients':>7} {'judgments':>9} {'judg/s':>7} {'next':>13} {'submit':>13} "
        f"{'request':>13} {'cycle':>13} {'errors':>6} {'over_asg':>8} {'twice':>5} "
        f"{'cpu ms/judgment client/server/pg/other':>39} {'cap/s':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cpu = r["cpu_ms_per_judgment"]
        cpu_s = f"{cpu['client']:.1f}/{cpu['server']:.1f}/{cpu['pg']:.1f}/{cpu['other']:.1f}"
        print(
            f"{r['clients']:>7} {r['judgments']:>9} {r['judgments_per_s']:>7.1f} "
            f"{triple(r['next_ms']):>13} {triple(r['submit_ms']):>13} "
            f"{triple(r['request_ms']):>13} {triple(r['cycle_ms']):>13} "
            f"{sum(r['errors'].values()):>6} {r['over_assigned']:>8} {r['double_judged']:>5} "
            f"{cpu_s:>39} {capacity(r):>6.0f}"
        )
    for r in results:
        notes = []
        if r["errors"]:
            notes.append(f"errors {r['errors']}")
        if r["ran_out"]:
            notes.append("RAN OUT OF TASKS (window partly idle)")
        if r["count_drift"]:
            notes.append(f"{r['count_drift']} tasks whose judgment_count != judgments")
        notes.append(f"machine CPU {r['machine_cpu_util'] * 100:.0f}%")
        split = "/".join(f"{share * 100:.0f}" for share in r["worker_cpu_share"])
        notes.append(f"gunicorn worker CPU split {split}%")
        print(f"  {r['clients']} clients: " + "; ".join(notes))
    if queries:
        n_next, n_submit = queries["next"], queries["submit"]
        print(
            f"SQL statements per request (CaptureQueriesContext, incl. BEGIN/COMMIT): "
            f"next={max(n_next) if n_next else '-'} submit={max(n_submit) if n_submit else '-'} "
            f"({queries['note']})"
        )
    last = results[-1]
    over = sum(r["over_assigned"] + r["double_judged"] for r in results)
    # Server-side CPU per judgment at the last level: gunicorn workers plus the PostgreSQL
    # backends serving them (issue 18's figure; the load generator's own CPU is left out).
    cpu_ms = last["cpu_ms_per_judgment"]["server"] + last["cpu_ms_per_judgment"]["pg"]
    print(
        f"clients={last['clients']} p99_ms={pct(last['request_ms'], 99):.0f} "
        f"judgments_per_s={last['judgments_per_s']:.0f} over_assigned={over} cpu_ms={cpu_ms:.1f}"
    )


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32", help="concurrent annotators per level")
    parser.add_argument("--duration", type=float, default=12.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per level")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument(
        "--keep-alive", type=int, default=30, help="gunicorn --keep-alive seconds (0: close)"
    )
    parser.add_argument("--tasks", type=int, default=4000, help="tasks per level's project")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause after each judgment")
    parser.add_argument("--keep-db", action="store_true", help="leave arbiter_bench in place")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--rules-pairs", type=int, default=3,
        help="then this many off/on pairs of phases with training rules (0: none; rules_on_off.py)",
    )  # fmt: skip
    parser.add_argument("--rules-clients", type=int, default=8, help="annotators in those phases")
    parser.add_argument(
        "--check-seconds", type=float, default=1.0, help="how often the rules checker runs"
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    n_annotators = max(32, *levels)

    try:
        import psycopg2  # noqa: F401

        pg_connect().close()
    except Exception as exc:
        print(
            f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as user {PG['user']} "
            f"(trust auth expected): {exc}".strip(),
            file=sys.stderr,
        )
        return 1

    config = (
        f"gunicorn gthread --workers {args.workers} --threads {args.threads} "
        f"--keep-alive {args.keep_alive}, "
        f"PostgreSQL, {os.cpu_count()} CPUs shared with the load generator, "
        f"{args.duration:g} s per level after {args.warmup:g} s warm-up, "
        f"think time {args.think_ms:g} ms"
    )
    print(f"[bench] {config}", flush=True)
    proc = None
    pg_conn = None
    log = ROOT / "var" / "bench-labeling-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        recreate_database()
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--verbosity", "0"],
            cwd=ROOT,
            env=app_env(),
            check=True,
        )
        seed = django_side(
            "seed",
            "--projects",
            str(len(levels) + 1 + bool(args.rules_pairs)),
            "--tasks",
            str(args.tasks),
            "--annotators",
            str(n_annotators),
        )
        print(
            f"[bench] seeded {len(seed['projects'])} projects x {seed['tasks_per_project']} tasks "
            f"(overlap {seed['overlap']}), {n_annotators} annotators in {seed['seconds']} s",
            flush=True,
        )
        port = free_port()
        proc = start_gunicorn(
            port=port,
            workers=args.workers,
            threads=args.threads,
            keep_alive=args.keep_alive,
            log=log,
        )
        wait_until_up(port, seed["admin_token"], proc)
        pg_conn = pg_connect(DB_NAME)
        results = []
        for clients, project in zip(levels, seed["projects"], strict=False):
            r = run_level(
                clients=clients,
                port=port,
                tokens=seed["tokens"],
                project=project,
                warmup=args.warmup,
                duration=args.duration,
                think_s=args.think_ms / 1000,
                gunicorn_pid=proc.pid,
                pg_conn=pg_conn,
            )
            results.append(r)
            print(
                f"[bench] {clients:>2} clients: {r['judgments_per_s']:.1f} judgments/s, "
                f"request p99 {pct(r['request_ms'], 99):.0f} ms, "
                f"over-assigned {r['over_assigned']}, judged twice {r['double_judged']}",
                flush=True,
            )
        rules = None
        if args.rules_pairs:
            import rules_on_off

            rules = rules_on_off.measure(
                bench=sys.modules[__name__],
                pairs=args.rules_pairs,
                every=args.check_seconds,
                project=seed["projects"][len(levels)],
                pg_conn=pg_conn,
                level_kwargs={
                    "clients": args.rules_clients,
                    "port": port,
                    "tokens": seed["tokens"],
                    "warmup": args.warmup,
                    "duration": args.duration,
                    "think_s": args.think_ms / 1000,
                    "gunicorn_pid": proc.pid,
                },
            )
        stop_gunicorn(proc)
        queries = django_side(
            "queries", "--project", str(seed["projects"][-1]), "--token", seed["tokens"][0]
        )
        pg_conn.close()
        pg_conn = None
    finally:
        if proc is not None:
            stop_gunicorn(proc)
        if pg_conn is not None:
            pg_conn.close()
        if not args.keep_db:
            drop_database()
    if args.json:
        args.json.write_text(
            json.dumps(
                {"config": config, "results": results, "queries": queries, "rules": rules},
                indent=1,
            )
        )
    if rules:
        import rules_on_off

        rules_on_off.report(rules)
    print_report(results, config=config, queries=queries)
    bad = sum(r["over_assigned"] + r["double_judged"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
