"""Export jobs, killed at each commit boundary and delivered again, delivered twice at once, or
with their pool process SIGKILLed mid-job: one snapshot each, as a clean run makes, and every
job ends."""

import os
import signal
import time

import psutil
import pytest

from apps.core.jobs import JobStatus
from apps.exports.models import ExportJob, Snapshot
from apps.exports.services import export_job_create, export_job_run
from tests.apps.core.crash import crash_then_deliver_again, deliver_at_once
from tests.apps.exports.helpers import judge
from tests.factories import UserFactory, add_member, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(project):
    annotators = [add_member(project, UserFactory()) for _ in range(2)]
    for i in range(6):
        task = make_task(project)
        for annotator in annotators:
            judge(task, annotator, {"choice": "AB"[i % 2], "strength": "clearly"})
    return project


def queue_export(project, user, capture_on_commit) -> ExportJob:
    with capture_on_commit(execute=False):  # its message is delivered by each test
        return export_job_create(project=project, kind="pairs", options={}, user=user)


def stored_files(project) -> list[str]:
    from django.conf import settings

    folder = settings.MEDIA_ROOT / "exports" / "snapshots" / str(project.pk)
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize(
    ("point", "attempts"), [("job.claimed", 2), ("export.file_written", 2), ("job.finished", 1)]
)
def test_an_export_killed_at_a_commit_boundary_and_delivered_again_ends_as_a_clean_run(
    point, attempts, judged, admin_user, django_capture_on_commit_callbacks
):
    clean = queue_export(judged, admin_user, django_capture_on_commit_callbacks)
    clean = export_job_run(job_id=clean.pk, worker="clean")
    job = queue_export(judged, admin_user, django_capture_on_commit_callbacks)

    reached = crash_then_deliver_again(
        lambda: export_job_run(job_id=job.pk, worker="w"),
        point=point,
        capture_on_commit=django_capture_on_commit_callbacks,
    )

    job.refresh_from_db()
    assert reached[-1] == point
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, attempts)
    assert job.rows_written == clean.rows_written == 12
    assert Snapshot.objects.count() == 2  # the clean run's and this job's, no third
    assert Snapshot.objects.get(jobs=job).sha256 == clean.snapshot.sha256
    assert stored_files(judged) == [f"{clean.snapshot.sha256}.jsonl"]  # no partial file left


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_make_one_snapshot(judged, admin_user):
    job = export_job_create(project=judged, kind="pairs", options={}, user=admin_user)

    raised = deliver_at_once(lambda worker: export_job_run(job_id=job.pk, worker=worker))

    job.refresh_from_db()
    assert raised == []
    assert (job.status, job.attempts, job.rows_written) == (JobStatus.SUCCEEDED, 1, 12)
    assert Snapshot.objects.count() == 1


@pytest.mark.worker
@pytest.mark.postgres
def test_an_export_whose_pool_process_is_killed_is_delivered_again_and_finishes(
    start_worker, judged, admin_user, tmp_path, settings
):
    flag = tmp_path / "paused"
    worker = start_worker(
        "default",
        name="exporter",
        app="tests.apps.core.pausing_worker",
        pool="prefork",
        ARBITER_TEST_PAUSE_AT="export.file_written",
        ARBITER_TEST_PAUSE_FLAG=str(flag),
        ARBITER_STORAGE_ROOT=str(settings.MEDIA_ROOT),
    )
    job = export_job_create(project=judged, kind="pairs", options={}, user=admin_user)
    wait_until(flag.exists, what="the job to reach its pause point", worker=worker)
    child = int(flag.read_text())
    assert child in [p.pid for p in psutil.Process(worker.proc.pid).children(recursive=True)]

    os.kill(child, signal.SIGKILL)  # as the kernel's out-of-memory killer would

    wait_until(
        lambda: ExportJob.objects.get(pk=job.pk).is_finished, what="the job to end", worker=worker
    )
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_written) == (JobStatus.SUCCEEDED, 2, 12)
    assert Snapshot.objects.count() == 1


def wait_until(predicate, *, what: str, worker, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{worker.log()[-4000:]}")
        time.sleep(0.2)
