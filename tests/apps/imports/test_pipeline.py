"""The import pipeline's life on the job layer: claims, cancel at each stage, progress, and the
end of every path."""

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core import jobs
from apps.core.jobs import JobStatus, job_cancel
from apps.corpus.models import Prompt
from apps.exports.importing import dataset_import_create, dataset_import_run
from apps.imports.models import ImportJob, ImportPhase
from apps.imports.pipeline import PROGRESS_EVERY
from apps.imports.services import import_job_create, import_job_run
from apps.labeling.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quiet_heartbeat(settings):
    settings.ARBITER_JOB_HEARTBEAT_SECONDS = 3600


def upload(rows: int) -> SimpleUploadedFile:
    lines = (json.dumps({"prompt": f"q{i}", "responses": ["a", "b"]}) for i in range(rows))
    return SimpleUploadedFile("rows.jsonl", "\n".join(lines).encode())


@pytest.fixture
def at_boundary(monkeypatch):
    """Runs `action()` when the import first reaches commit boundary `name` (the job layer's
    test hook): what another request does at that moment."""

    def install(name: str, action) -> None:
        done = []

        def hook(point: str) -> None:
            if point == name and not done:
                done.append(point)
                action()

        monkeypatch.setattr(jobs, "_crash_hook", hook)

    return install


def test_a_good_file_ends_succeeded_with_its_counters_and_one_attempt(project, admin_user):
    job = import_job_create(project=project, user=admin_user, upload=upload(3))

    job = import_job_run(job_id=job.pk, worker="w1")

    assert (job.status, job.phase, job.attempts, job.worker) == ("succeeded", "writing", 1, "w1")
    assert (job.total_rows, job.processed_rows, job.percent) == (3, 3, 100)
    assert job.started_at <= job.finished_at and job.error == ""


def test_a_job_cancelled_while_queued_never_runs(project, admin_user):
    job = import_job_create(project=project, user=admin_user, upload=upload(3))
    job_cancel(ImportJob, job.pk)

    job = import_job_run(job_id=job.pk)

    assert (job.status, job.attempts) == (JobStatus.CANCELLED, 0)
    assert not Prompt.objects.exists()


def test_a_cancel_while_rows_are_checked_stops_the_check_and_writes_nothing(
    project, admin_user, at_boundary
):
    job = import_job_create(project=project, user=admin_user, upload=upload(PROGRESS_EVERY + 10))
    at_boundary("import.progress", lambda: job_cancel(ImportJob, job.pk))

    job = import_job_run(job_id=job.pk)

    assert job.status == JobStatus.CANCELLED
    assert job.processed_rows < PROGRESS_EVERY + 10  # it stopped before the end of the file
    assert not Prompt.objects.exists() and not Task.objects.exists()


def test_a_cancel_after_the_check_ends_the_job_before_any_row_is_written(
    project, admin_user, at_boundary
):
    job = import_job_create(project=project, user=admin_user, upload=upload(3))
    at_boundary("import.checked", lambda: job_cancel(ImportJob, job.pk))

    job = import_job_run(job_id=job.pk)

    assert (job.status, job.phase) == (JobStatus.CANCELLED, ImportPhase.WRITING)
    assert not Prompt.objects.exists()


def test_a_file_of_blank_lines_fails_as_holding_no_rows(project, admin_user):
    job = import_job_create(
        project=project, user=admin_user, upload=SimpleUploadedFile("b.jsonl", b"\n  \n\r\n")
    )

    job = import_job_run(job_id=job.pk)

    assert job.status == JobStatus.FAILED
    assert job.errors == [{"line": 0, "error": "the file holds no rows"}]


def test_a_file_missing_from_storage_fails_the_job_with_the_reason(project, admin_user):
    job = import_job_create(project=project, user=admin_user, upload=upload(3))
    job.file.storage.delete(job.file.name)

    job = import_job_run(job_id=job.pk)

    assert job.status == JobStatus.FAILED
    assert job.error.startswith("The import stopped (FileNotFoundError")
    assert job.error.endswith("nothing was imported.")


def test_an_upload_over_the_size_limit_is_refused_before_a_job_exists(
    project, admin_user, settings
):
    settings.ARBITER_IMPORT_MAX_BYTES = 10
    with pytest.raises(Exception, match="limited to 10 bytes"):
        import_job_create(project=project, user=admin_user, upload=upload(3))
    assert not ImportJob.objects.exists()


def test_both_kinds_keep_line_numbers_of_the_file_with_blank_lines_between(project, admin_user):
    content = b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n\n\n{"prompt": "p"}\n'
    job = dataset_import_create(
        project=project, user=admin_user, upload=SimpleUploadedFile("d.jsonl", content)
    )

    job = dataset_import_run(import_id=job.pk)

    assert job.status == JobStatus.FAILED
    assert job.errors == [{"line": 4, "error": 'a preference row needs "chosen" and "rejected"'}]


@pytest.fixture
def eager_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.mark.parametrize("kind", ["prompts", "dataset"])
def test_an_import_whose_message_was_lost_is_sent_again_by_the_reaper_and_imported(
    kind, project, admin_user, eager_celery, django_capture_on_commit_callbacks
):
    content = b'{"prompt": "p", "responses": ["a", "b"], "chosen": "a", "rejected": "b"}'
    create = import_job_create if kind == "prompts" else dataset_import_create
    with django_capture_on_commit_callbacks(execute=False):  # the send never happens
        job = create(
            project=project, user=admin_user, upload=SimpleUploadedFile("r.jsonl", content)
        )
    model = type(job)
    model.objects.filter(pk=job.pk).update(queued_at=timezone.now() - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        reaped = jobs.jobs_reap()

    assert reaped[model._meta.label]["resent"] == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.tasks_created) == (JobStatus.SUCCEEDED, 1, 1)
