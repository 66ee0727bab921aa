"""A job kind of its own for testing the job layer apart from any real kind: a real table, made
once per test database, whose job writes `Effect` rows."""

import pytest
from celery import shared_task
from django.db import connection, models

from apps.core.jobs import Job


class SampleJob(Job):
    items = models.PositiveIntegerField(default=3)
    written = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "core"

    def __str__(self) -> str:
        return f"Sample job {self.pk} ({self.status})"


class SampleEffect(models.Model):
    job = models.ForeignKey(SampleJob, on_delete=models.CASCADE, related_name="effects")
    item = models.PositiveIntegerField()

    class Meta:
        app_label = "core"

    def __str__(self) -> str:
        return f"item {self.item} of job {self.job_id}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        for model in (SampleJob, SampleEffect):
            if model._meta.db_table not in connection.introspection.table_names():
                editor.create_model(model)


def sample_execute(job_id: int, *, worker: str = "worker-1") -> SampleJob | None:
    """What a job kind's service looks like on the job layer: claim, do the work, then write the
    last effect and `succeeded` in one transaction."""
    from apps.core.jobs import job_claim, job_finishing, job_succeed

    claimed = job_claim(SampleJob, job_id, worker=worker)
    if claimed is None:
        return None
    with job_finishing(claimed) as job:
        if job is None:
            return None
        SampleEffect.objects.bulk_create(
            SampleEffect(job=job, item=item) for item in range(job.items)
        )
        job_succeed(job, written=job.items)
    return job


@shared_task(name="tests.core.sample_job", acks_late=True, reject_on_worker_lost=True)
def run_sample_job(job_id: int) -> None:
    sample_execute(job_id, worker="eager")


@pytest.fixture
def sample_kind():
    """SampleJob registered as a job kind (for the reaper and retry), for one test."""
    from apps.core import jobs

    kind = jobs.register_job_kind(SampleJob, task=run_sample_job)
    yield kind
    jobs._kinds.pop(SampleJob, None)


@pytest.fixture
def eager_celery():
    """Tasks sent run at once in this process (the real task code, no broker)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
