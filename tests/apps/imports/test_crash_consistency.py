"""Crash consistency of both import kinds on PostgreSQL: a crash after each commit boundary and a
second delivery, two deliveries at once, and a real worker's pool process killed mid-import.
Each time the rows written equal a clean run's and the job ends (or resumes and ends).

Crashes are raised at the job layer's crash points (a BaseException, so no error handler
catches it — as if the process had died there); the job's worker then looks dead once its
heartbeat is older than the stale limit, which the reaper is asked about with a later clock."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import Connection

from apps.core.jobs import JobStatus, SimulatedCrash, crash_at, jobs_reap, stale_after
from apps.corpus.models import Prompt, Response
from apps.exports.importing import dataset_import_run
from apps.exports.models import DatasetImport
from apps.exports.tasks import run_dataset_import
from apps.feedback.models import Judgment
from apps.imports.models import ImportJob
from apps.imports.services import import_job_run
from apps.imports.tasks import run_import
from apps.labeling.models import Task, TaskItem
from tests.conftest import ROOT, subprocess_env
from tests.factories import ProjectFactory, StaffFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def prompt_rows(n: int) -> list[dict]:
    return [{"prompt": f"Question {i}?", "responses": [f"yes {i}", f"no {i}", f"maybe {i}"]} for i in range(n)]  # fmt: skip


def preference_rows(n: int) -> list[dict]:
    # Two rows per prompt: the dataset kind shares one Prompt between them.
    return [{"prompt": f"Question {i // 2}?", "chosen": f"yes {i}", "rejected": f"no {i}"} for i in range(n)]  # fmt: skip


KINDS = {
    "prompts": (ImportJob, prompt_rows, lambda pk: import_job_run(job_id=pk), run_import),
    "dataset": (
        DatasetImport,
        preference_rows,
        lambda pk: dataset_import_run(import_id=pk),
        run_dataset_import,
    ),
}


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()


@pytest.fixture
def eager_celery():
    """Tasks sent (by the reaper) run at once in this process: the real task, no broker."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def new_job(kind: str, rows: int):
    model, make_rows, _, _ = KINDS[kind]
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    name = f"{kind}-{project.pk}.jsonl"
    path = Path(settings.MEDIA_ROOT) / name
    path.write_text("\n".join(json.dumps(row) for row in make_rows(rows)))
    extra = {"pair_strategy": "all", "max_pairs_per_prompt": 10} if model is ImportJob else {}
    return model.objects.create(
        project=project, created_by=admin, file=name, original_name=name, **extra
    )


def written(project) -> dict[str, int]:
    """Every row an import writes, counted for one project."""
    return {
        "prompts": Prompt.objects.filter(project=project).count(),
        "responses": Response.objects.filter(prompt__project=project).count(),
        "tasks": Task.objects.filter(project=project).count(),
        "items": TaskItem.objects.filter(task__project=project).count(),
        "judgments": Judgment.objects.filter(project=project).count(),
    }


def clean_run(kind: str, rows: int) -> dict[str, int]:
    job = new_job(kind, rows)
    assert KINDS[kind][2](job.pk).status == JobStatus.SUCCEEDED
    return written(job.project)


def reap_as_if_the_worker_went_silent() -> dict:
    return jobs_reap(now=timezone.now() + stale_after() + timedelta(seconds=1))


# Every commit boundary of an import, in order, with how many times it is reached in a run of
# a few rows: the claim; progress (phase "validating", the final count, phase "writing"); the
# end of the checking pass; the final transaction (rows + succeeded).
CRASH_POINTS = [
    ("job.claimed", 1),
    ("import.progress", 1),
    ("import.progress", 2),
    ("import.progress", 3),
    ("import.checked", 1),
    ("job.finished", 1),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("point", "hit"), CRASH_POINTS, ids=[f"{p}#{h}" for p, h in CRASH_POINTS])
def test_a_crash_after_any_commit_then_redelivery_writes_what_a_clean_run_writes(
    kind, point, hit, eager_celery
):
    expected = clean_run(kind, rows=5)
    job = new_job(kind, rows=5)
    run = KINDS[kind][2]

    with crash_at(point, hit=hit) as reached, pytest.raises(SimulatedCrash):
        run(job.pk)
    assert reached.count(point) == hit

    # The message comes again at once: while the dead claim still looks alive, it is refused
    # (or, after the final commit, the job is finished) and nothing more is written.
    again = run(job.pk)
    if point == "job.finished":
        assert again.status == JobStatus.SUCCEEDED
        assert written(job.project) == expected
    else:
        assert (again.status, again.attempts) == (JobStatus.RUNNING, 1)
        assert written(job.project) == dict.fromkeys(expected, 0)
        # Its heartbeat goes stale: the reaper queues it again, the new delivery starts over.
        assert reap_as_if_the_worker_went_silent()[job._meta.label]["requeued"] == [job.pk]

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == (1 if point == "job.finished" else 2)
    assert written(job.project) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_two_deliveries_at_once_write_the_file_once(kind):
    expected = clean_run(kind, rows=400)
    job = new_job(kind, rows=400)
    run, start = KINDS[kind][2], threading.Barrier(2)
    outcomes, failures = [], []

    def deliver():
        try:
            start.wait()
            outcomes.append(run(job.pk).status)
        except Exception as exc:  # surfaced below, with the thread's error
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not failures, failures
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    assert written(job.project) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_a_delivery_after_the_attempts_are_spent_fails_the_job_with_the_reason(kind):
    job = new_job(kind, rows=3)
    with crash_at("import.checked"), pytest.raises(SimulatedCrash):
        KINDS[kind][2](job.pk)
    job.max_attempts = 1
    job.save(update_fields=["max_attempts"])

    reap_as_if_the_worker_went_silent()

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped answering" in job.error and "after 1 attempts" in job.error
    assert not any(written(job.project).values())


# ---------------------------------------------------------------- a real worker, killed


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


class PreforkWorker:
    """A real Celery worker with a prefork pool of one process (the one to kill), on a broker
    of its own: a filesystem broker in the test's folder, so no other worker takes its
    messages."""

    def __init__(self, broker_dir: Path, log_path: Path, **env):
        self.broker_dir, self.log_path = broker_dir, log_path
        for name in ("out", "processed", "control"):
            (broker_dir / name).mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default",
            "--pool=prefork", "--concurrency=1", "--without-heartbeat", "--without-mingle",
            "--without-gossip", "-l", "INFO", "-n", f"prefork-{os.getpid()}@%h",
        ]  # fmt: skip
        self._out = log_path.open("w")
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=subprocess_env(
                CELERY_BROKER_URL="filesystem://",
                CELERY_BROKER_DIR=str(broker_dir),
                ARBITER_STORAGE_ROOT=str(settings.MEDIA_ROOT),
                **env,
            ),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while "ready" not in log_path.read_text():
            assert self.proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)

    def send(self, task, *args) -> None:
        folders = {
            "data_folder_in": str(self.broker_dir / "out"),
            "data_folder_out": str(self.broker_dir / "out"),
            "processed_folder": str(self.broker_dir / "processed"),
            "control_folder": str(self.broker_dir / "control"),
        }
        with Connection("filesystem://", transport_options=folders) as broker:
            task.apply_async(args=args, connection=broker, queue="default")

    def pool_process(self) -> int:
        children = _children(self.proc.pid)
        assert len(children) == 1, children
        return children[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


@pytest.mark.worker
@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_killed_mid_write_leaves_a_job_that_resumes_and_finishes(kind, tmp_path):
    from apps.core.tasks import reap_jobs

    rows = 6000
    expected = clean_run(kind, rows=rows)
    job = new_job(kind, rows=rows)
    worker = PreforkWorker(
        tmp_path / "broker",
        tmp_path / "worker.log",
        ARBITER_JOB_HEARTBEAT_SECONDS="0.5",
        ARBITER_JOB_STALE_SECONDS="3",
    )
    try:
        worker.send(KINDS[kind][3], job.pk)
        deadline = time.monotonic() + 120
        while (job := type(job).objects.get(pk=job.pk)).phase != "writing":
            assert not job.is_finished, f"finished before it could be killed: {job.status}"
            assert time.monotonic() < deadline, worker.log_path.read_text()
            time.sleep(0.02)
        victim = worker.pool_process()
        os.kill(victim, signal.SIGKILL)  # the kernel's OOM killer does no more than this

        # The dead process's transaction rolls back; the job waits, running, for the reaper
        # (here sent as beat would send it, every second) to see its heartbeat go stale.
        deadline = time.monotonic() + 60
        while not (job := type(job).objects.get(pk=job.pk)).is_finished:
            assert time.monotonic() < deadline, worker.log_path.read_text()
            worker.send(reap_jobs)
            time.sleep(1)
    finally:
        worker.stop()

    assert victim not in _children(worker.proc.pid)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2), job.error
    assert written(job.project) == expected
