"""Soak: 200 annotators label over HTTP for 3 minutes while imports, exports and a training run
are in flight and a chaos loop kills workers, database connections and the broker.

    python bench/soak/bench_soak.py [--annotators 200] [--duration 180] [--think-s 2]
        [--tasks 6000] [--settle 240] [--keep-db]

What it does, start to end:
1. Creates a fresh database `arbiter_soak` on PostgreSQL at 127.0.0.1:5432, migrates it and seeds
   it (bench/soak/soak_side.py seed): 200 annotators with label-scoped API tokens, a pairwise
   project (overlap 3), a project for imports and a small labeled project with a tiny model.
2. Starts its own Redis (127.0.0.1, a free port, no persistence: other users' Redis is never
   touched), gunicorn (gthread), two Celery workers (prefork: `default`, and `training`) and
   Celery beat, which sends the one reaper (reap-stale-jobs) every 60 s. Heartbeats are stale
   after 20 s and a job queued for 30 s is sent again, so that the reaper acts inside the soak.
3. For `--duration` seconds (asyncio + httpx, one process) each annotator loops: ask for a task,
   think (exponential, mean 2 s), submit. A network error or 5xx is retried as a browser's
   resubmit would be: the same body to the same lease, until it is answered. Meanwhile an admin
   client sends an import every 12 s, an export every 10 s and a training run at 5 s and 90 s.
4. Chaos, meanwhile: every 20 s a worker is SIGKILLed (in turn: a pool process, the whole
   training worker, the training pool process, the whole default worker; a whole worker is
   started again); every 30 s every PostgreSQL backend of the soak's database except the
   chaos loop's own is ended (pg_terminate_backend); once, at 100 s, Redis is shut down without
   saving (its queued messages are lost) and started again.
5. Waits (up to --settle seconds) until every job of every kind is finished, then counts from the
   database (soak_side.py check): judgments answered 2xx but not stored (lost), leases or
   (task, annotator) pairs with two judgments (duplicated), tasks with more judgments and live
   leases than the overlap (over_assigned), jobs still queued or running (stuck_jobs), and
   imports whose rows are not each there exactly once. Stops everything, drops the database.

The last line: annotators=… judgments=… lost=0 duplicated=0 over_assigned=0 stuck_jobs=0
errors_5xx=… (errors_5xx: answers with a 5xx status the clients received, each retried).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.labeling.bench_labeling import children, free_port, pct  # noqa: E402

PYTHON = sys.executable
DB_NAME = "arbiter_soak"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
JUDGMENT = {"payload": {"choice": "A", "strength": "clearly"}, "duration_ms": 2000}
STALE_S, QUEUED_TOO_LONG_S, REAP_EVERY_S = 20, 30, 60
TRAINING_CONFIG = {"num_epochs": 20, "batch_size": 4, "learning_rate": 1e-3, "save_steps": 8}


def log(line: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {line}", flush=True)


# ---------------------------------------------------------------- database


def pg_connect(dbname: str = "postgres"):
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, connect_timeout=5, **PG)
    conn.autocommit = True
    return conn


def pg_execute(sql: str, dbname: str = "postgres") -> list[tuple]:
    conn = pg_connect(dbname)  # not `with conn`: psycopg2 would open a transaction block
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def terminate_backends() -> int:
    """Ends every backend of the soak's database but this one (never another database's)."""
    rows = pg_execute(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{DB_NAME}' AND pid <> pg_backend_pid()",
        DB_NAME,
    )
    return rows[0][0]


def unfinished_jobs(tables: dict[str, str]) -> int:
    union = " UNION ALL ".join(
        f"SELECT count(*) FROM {table} WHERE status IN ('queued', 'running')"
        for table in tables.values()
    )
    return sum(row[0] for row in pg_execute(union, DB_NAME))


# ---------------------------------------------------------------- processes


class Services:
    """Redis, gunicorn, two Celery workers and beat, each in its own process group."""

    def __init__(self, *, tmp: Path, models: Path):
        self.tmp = tmp
        self.redis_port = free_port()
        self.web_port = free_port()
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("ARBITER_PRODUCTION", "CONN_MAX_AGE")
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            SECRET_KEY=os.environ.get("SECRET_KEY", "arbiter-bench-only-secret-key"),
            DATABASE_URL=DATABASE_URL,
            DEBUG="false",
            LOG_LEVEL="WARNING",
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            CELERY_BROKER_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            ARBITER_STORAGE_ROOT=str(tmp / "storage"),
            ARBITER_MODEL_ROOTS=str(models),
            ARBITER_MODEL_HUB_CACHE="off",
            # 200 annotators behind one address: no API throttle.
            ARBITER_API_RATE_USER="off",
            ARBITER_API_RATE_ANON="off",
            ARBITER_API_RATE_AUTH="off",
            ARBITER_JOB_STALE_SECONDS=str(STALE_S),
            ARBITER_JOB_QUEUED_TOO_LONG_SECONDS=str(QUEUED_TOO_LONG_S),
            ARBITER_AUTOPILOT_CHECK_SECONDS="60",
        )
        self.env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        out = (self.tmp / f"{name}.log").open("a")
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.procs[name] = proc
        return proc

    # Redis: .ci/run's start command, on the soak's own port and folder, in the foreground.
    def start_redis(self) -> None:
        self._spawn(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port),
             "--save", "", "--appendonly", "no", "--dir", str(self.tmp)],
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "ping"],
                capture_output=True,
                text=True,
            )
            if "PONG" in ping.stdout:
                return
            time.sleep(0.2)
        raise RuntimeError("Redis did not come up")

    def restart_redis(self) -> None:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "shutdown", "nosave"],
            capture_output=True,
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.procs["redis"].wait(timeout=10)
        self.start_redis()

    def start_web(self, *, workers: int, threads: int) -> None:
        self._spawn(
            "gunicorn",
            [PYTHON, "-m", "gunicorn", "config.wsgi:application",
             "--bind", f"127.0.0.1:{self.web_port}", "--workers", str(workers),
             "--threads", str(threads), "--worker-class", "gthread", "--keep-alive", "30",
             "--backlog", "512", "--timeout", "60", "--log-level", "warning"],
        )  # fmt: skip

    def start_worker(self, queue: str) -> None:
        concurrency = "2" if queue == "default" else "1"
        self._spawn(
            f"worker-{queue}",
            [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool=prefork",
             f"--concurrency={concurrency}", "--without-heartbeat", "--without-mingle",
             "--without-gossip", "-l", "INFO", "-n", f"soak-{queue}@%h"],
        )  # fmt: skip

    def start_beat(self) -> None:
        self._spawn(
            "beat",
            [PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "WARNING",
             "--pidfile", str(self.tmp / "beat.pid")],
        )  # fmt: skip

    def kill_pool_process(self, queue: str) -> str:
        worker = self.procs[f"worker-{queue}"]
        pool = children(worker.pid)
        if not pool:
            return self.kill_worker(queue)
        victim = random.choice(pool)
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)  # the pool process dies; the worker starts another
        return f"SIGKILL {queue} pool process {victim}"

    def kill_worker(self, queue: str) -> str:
        worker = self.procs[f"worker-{queue}"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # the worker and its pool, as a crash would
        worker.wait()
        self.start_worker(queue)
        self.restarts[queue] = self.restarts.get(queue, 0) + 1
        return f"SIGKILL {queue} worker {worker.pid} and its pool; started again"

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def soak_side(env: dict, *args: str) -> dict:
    out = subprocess.run(
        [PYTHON, str(ROOT / "bench/soak/soak_side.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- clients


@dataclass
class Tally:
    acked: list[tuple[int, int]] = field(default_factory=list)  # (assignment, judgment id)
    statuses: dict[str, int] = field(default_factory=dict)
    errors_5xx: int = 0
    network_errors: int = 0
    retries: int = 0
    ran_out: int = 0
    submit_ms: list[float] = field(default_factory=list)
    imports: dict[int, int] = field(default_factory=dict)  # import job id: rows in its file
    jobs_started: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.statuses[what] = self.statuses.get(what, 0) + 1


async def send(client, tally: Tally, method: str, path: str, *, give_up_at: float, **kwargs):
    """One request as a browser's retry would make it: the same request again after a network
    error or a 5xx (backing off), until answered or `give_up_at` (monotonic) passes."""
    delay = 0.25
    while True:
        try:
            response = await client.request(method, path, **kwargs)
        except Exception as exc:  # httpx.TransportError and friends: the request may have landed
            tally.network_errors += 1
            tally.count(type(exc).__name__)
        else:
            if response.status_code < 500:
                return response
            tally.errors_5xx += 1
            tally.count(f"{path.split('/')[2]} {response.status_code}")
        if time.monotonic() > give_up_at:
            return None
        tally.retries += 1
        await asyncio.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 4.0)


async def annotator(client, tally, *, token, project, stop_at, give_up_at, think_s, rng):
    headers = {"Authorization": f"Token {token}"}
    while time.monotonic() < stop_at:
        response = await send(
            client,
            tally,
            "POST",
            f"/api/projects/{project}/tasks/next/",
            headers=headers,
            give_up_at=stop_at,
        )
        if response is None:
            return
        if response.status_code == 204:
            tally.ran_out += 1
            return
        if response.status_code != 200:
            tally.count(f"next {response.status_code}")
            await asyncio.sleep(1)
            continue
        assignment = response.json()["assignment"]
        await asyncio.sleep(rng.expovariate(1 / think_s))
        started = time.monotonic()
        response = await send(
            client,
            tally,
            "POST",
            f"/api/assignments/{assignment}/judgment/",
            headers=headers,
            json=JUDGMENT,
            give_up_at=give_up_at,
        )
        if response is None:
            tally.count("submit gave up")
            continue
        if response.status_code in (200, 201):
            tally.acked.append((assignment, response.json()["id"]))
            tally.count(f"submit {response.status_code}")
            tally.submit_ms.append((time.monotonic() - started) * 1000)
        else:
            tally.count(f"submit {response.status_code}")


def import_file(batch: int, rows: int) -> bytes:
    return "".join(
        json.dumps(
            {
                "prompt": f"Imported question {batch}-{i}?",
                "responses": [f"yes {batch}-{i}", f"no {batch}-{i}"],
            }
        )
        + "\n"
        for i in range(rows)
    ).encode()


async def admin(client, tally, *, token, seed, started, stop_at, give_up_at, import_rows):
    headers = {"Authorization": f"Token {token}"}
    labeling, imports, training = (
        seed["labeling_project"],
        seed["imports_project"],
        seed["training_project"],
    )
    next_import, next_export, runs_at = 2.0, 4.0, [5.0, 90.0]
    batch = 0
    kinds = ["pairs", "raw"]
    while time.monotonic() < stop_at:
        now = time.monotonic() - started
        if runs_at and now >= runs_at[0]:
            runs_at.pop(0)
            body = {
                "objective": "reward_pairwise",
                "config": {"model": seed["model"], **TRAINING_CONFIG},
            }
            r = await send(
                client,
                tally,
                "POST",
                f"/api/projects/{training}/runs/",
                headers=headers,
                json=body,
                give_up_at=give_up_at,
            )
            tally.count(f"run launch {r.status_code if r else 'gave up'}")
            if r is not None and r.status_code == 201:
                tally.jobs_started["training"] = tally.jobs_started.get("training", 0) + 1
            else:
                log(f"training launch answered {r.status_code if r else None}: {r and r.text}")
        if now >= next_import:
            next_import += 12.0
            batch += 1
            files = {"file": (f"soak-{batch}.jsonl", import_file(batch, import_rows))}
            r = await send(
                client,
                tally,
                "POST",
                f"/api/projects/{imports}/imports/",
                headers=headers,
                files=files,
                give_up_at=give_up_at,
            )
            if r is not None and r.status_code in (200, 201, 202):
                tally.imports[r.json()["id"]] = import_rows
                tally.jobs_started["import"] = tally.jobs_started.get("import", 0) + 1
            else:
                log(f"import answered {r.status_code if r else None}: {r and r.text[:200]}")
        if now >= next_export:
            next_export += 10.0
            kinds.reverse()
            r = await send(
                client,
                tally,
                "POST",
                f"/api/projects/{labeling}/exports/",
                headers=headers,
                json={"kind": kinds[0]},
                give_up_at=give_up_at,
            )
            if r is not None and r.status_code == 202:
                tally.jobs_started["export"] = tally.jobs_started.get("export", 0) + 1
            else:
                log(f"export answered {r.status_code if r else None}: {r and r.text[:200]}")
        await asyncio.sleep(0.5)


async def load(*, services, seed, args) -> Tally:
    import httpx

    tally = Tally()
    limits = httpx.Limits(max_connections=args.annotators + 10, max_keepalive_connections=None)
    started = time.monotonic()
    stop_at = started + args.duration
    give_up_at = stop_at + 60  # a submit started in time is retried for up to a minute after
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{services.web_port}", limits=limits, timeout=30
    ) as client:
        coroutines = [
            annotator(
                client,
                tally,
                token=token,
                project=seed["labeling_project"],
                stop_at=stop_at,
                give_up_at=give_up_at,
                think_s=args.think_s,
                rng=random.Random(i),
            )
            for i, token in enumerate(seed["tokens"][: args.annotators])
        ]
        coroutines.append(
            admin(
                client,
                tally,
                token=seed["admin_token"],
                seed=seed,
                started=started,
                stop_at=stop_at,
                give_up_at=give_up_at,
                import_rows=args.import_rows,
            )
        )
        await asyncio.gather(*coroutines)
    return tally


# ---------------------------------------------------------------- chaos


class Chaos(threading.Thread):
    def __init__(self, services: Services, *, duration: float):
        super().__init__(daemon=True)
        self.services, self.duration = services, duration
        self.stop = threading.Event()
        self.events: list[str] = []

    def note(self, line: str) -> None:
        self.events.append(line)
        log(f"chaos: {line}")

    def run(self) -> None:
        kills = [
            lambda: self.services.kill_pool_process("default"),
            lambda: self.services.kill_worker("training"),
            lambda: self.services.kill_pool_process("training"),
            lambda: self.services.kill_worker("default"),
        ]
        started = time.monotonic()
        next_kill, next_pg, redis_at = 20.0, 30.0, 100.0
        while not self.stop.wait(0.5):
            now = time.monotonic() - started
            if now >= self.duration:
                return
            try:
                if now >= next_kill:
                    next_kill += 20.0
                    self.note(kills[0]())
                    kills.append(kills.pop(0))
                if now >= next_pg:
                    next_pg += 30.0
                    self.note(f"pg_terminate_backend: {terminate_backends()} backends ended")
                if redis_at is not None and now >= redis_at:
                    redis_at = None
                    self.services.restart_redis()
                    self.note("Redis shut down (nosave) and started again")
            except Exception as exc:  # the chaos loop must outlive what it breaks
                self.note(f"chaos step failed: {exc!r}")


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=200)
    parser.add_argument("--duration", type=float, default=180.0, help="labeling seconds")
    parser.add_argument("--think-s", type=float, default=2.0, help="mean think time (exponential)")
    parser.add_argument("--tasks", type=int, default=6000, help="tasks in the labeling project")
    parser.add_argument("--import-rows", type=int, default=300, help="rows per imported file")
    parser.add_argument("--settle", type=float, default=240.0, help="most seconds to wait for jobs")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--keep-db", action="store_true", help="leave arbiter_soak in place")
    args = parser.parse_args()

    try:
        pg_execute("SELECT 1")
    except Exception as exc:
        print(f"PostgreSQL is not reachable at 127.0.0.1:5432 as postgres: {exc}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="arbiter-soak-"))
    (tmp / "models").mkdir()
    services = Services(tmp=tmp, models=tmp / "models")
    chaos = None
    load_before = os.getloadavg()
    log(f"logs in {tmp}; load average {load_before[0]:.2f} on {os.cpu_count()} CPUs")
    try:
        pg_execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        pg_execute(f'CREATE DATABASE "{DB_NAME}"')
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=services.env,
            check=True,
        )
        seed = soak_side(
            services.env,
            "seed",
            "--tasks",
            str(args.tasks),
            "--annotators",
            str(args.annotators),
            "--models",
            str(tmp / "models"),
        )
        log(f"seeded {args.tasks} tasks, {args.annotators} annotators in {seed['seconds']} s")
        services.start_redis()
        services.start_web(workers=args.web_workers, threads=args.web_threads)
        services.start_worker("default")
        services.start_worker("training")
        services.start_beat()
        wait_for_web(services, seed["admin_token"])
        log(f"gunicorn on 127.0.0.1:{services.web_port}, Redis on :{services.redis_port}")

        chaos = Chaos(services, duration=args.duration)
        chaos.start()
        labeling_started = time.monotonic()
        tally = asyncio.run(load(services=services, seed=seed, args=args))
        labeling_s = time.monotonic() - labeling_started
        chaos.stop.set()
        chaos.join()
        load_during = os.getloadavg()
        log(
            f"labeling done in {labeling_s:.0f} s: {len(tally.acked)} judgments acknowledged, "
            f"{tally.errors_5xx} 5xx, {tally.network_errors} network errors; waiting for jobs"
        )
        settle_started = time.monotonic()
        while (left := unfinished_jobs(seed["job_tables"])) and (
            time.monotonic() - settle_started < args.settle
        ):
            time.sleep(5)
        settle_s = time.monotonic() - settle_started
        log(f"jobs settled in {settle_s:.0f} s ({left} unfinished)")

        (tmp / "acked.json").write_text(json.dumps(tally.acked))
        (tmp / "imports.json").write_text(json.dumps(tally.imports))
        result = soak_side(
            services.env,
            "check",
            "--project",
            str(seed["labeling_project"]),
            "--acked",
            str(tmp / "acked.json"),
            "--imports",
            str(tmp / "imports.json"),
        )
    finally:
        if chaos is not None:
            chaos.stop.set()
        services.stop()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                pg_execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    print()
    print(
        f"Arbiter soak: {args.annotators} annotators (think time exponential, mean "
        f"{args.think_s:g} s) for {labeling_s:.0f} s over gunicorn ({args.web_workers} workers x "
        f"{args.web_threads} threads) + PostgreSQL + Redis + Celery (default, training, beat)"
    )
    print(
        f"load average (1 min) {load_before[0]:.2f} before, {load_during[0]:.2f} at the end of "
        f"labeling, {os.cpu_count()} CPUs shared with other work"
    )
    print(f"chaos: {len(chaos.events)} actions: " + "; ".join(chaos.events))
    print(
        f"clients: {len(tally.acked)} judgments acknowledged "
        f"({len(tally.acked) / labeling_s:.1f}/s), submit p50/p99 "
        f"{pct(tally.submit_ms, 50):.0f}/{pct(tally.submit_ms, 99):.0f} ms incl. retries, "
        f"{tally.retries} retries, {tally.network_errors} network errors, "
        f"ran out of tasks: {tally.ran_out}; answers {dict(sorted(tally.statuses.items()))}"
    )
    print(f"jobs sent: {tally.jobs_started}; settled {settle_s:.0f} s after labeling stopped")
    for label, kind in result["jobs"].items():
        if kind["counts"]:
            reasons = (
                f"; failed because: {kind['failed_reasons']}" if kind["failed_reasons"] else ""
            )
            again = kind["more_than_one_attempt"]
            print(f"  {label}: {kind['counts']}, {again} ran more than once{reasons}")
    imp = result["imports"]
    print(
        f"imports: {imp['checked']} checked, {imp['doubled']} with a row twice, "
        f"{imp['partial']} with rows missing or left by a failed job; "
        f"judgment_count drift on {result['count_drift']} tasks"
    )
    print(
        f"annotators={args.annotators} judgments={result['judgments']} lost={result['lost']} "
        f"duplicated={result['duplicated']} over_assigned={result['over_assigned']} "
        f"stuck_jobs={result['stuck_jobs']} errors_5xx={tally.errors_5xx}"
    )
    bad = result["lost"] + result["duplicated"] + result["over_assigned"] + result["stuck_jobs"]
    return 1 if bad else 0


def wait_for_web(services: Services, token: str, timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if services.procs["gunicorn"].poll() is not None:
            raise RuntimeError("gunicorn exited; see its log in " + str(services.tmp))
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(
                f"http://127.0.0.1:{services.web_port}/api/projects/",
                headers={"Authorization": f"Token {token}"},
                timeout=5,
            )
            if r.status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer in time")


if __name__ == "__main__":
    sys.exit(main())
