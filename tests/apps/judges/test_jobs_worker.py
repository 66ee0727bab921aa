"""Judge jobs run by a real Celery worker process on the real broker."""

import time

import pytest

from apps.core.jobs import JobStatus
from apps.judges.models import JudgeJob, JudgeLabel
from apps.judges.services import judge_job_cancel, judge_job_create
from tests.apps.generation.openai_server import Step, openai_server
from tests.apps.generation.test_jobs_worker import broker_env  # noqa: F401 (a fixture)
from tests.apps.judges.conftest import content_judge, endpoint_judge
from tests.factories import make_task

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def loopback_model_servers(settings):
    """The worker, started before the fake server, inherits this allow-list."""
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]


def finished(job, worker, timeout: float) -> JudgeJob:
    deadline = time.monotonic() + timeout
    while not (row := JudgeJob.objects.get(pk=job.pk)).is_finished:
        if time.monotonic() > deadline:
            pytest.fail(f"the judge job did not end\n{worker.log()[-3000:]}")
        time.sleep(0.2)
    return row


def test_a_real_worker_judges_every_task_in_both_orders(start_worker, broker_env, project):  # noqa: F811
    tasks = [make_task(project, texts=["a good answer", f"a poor answer {i}"]) for i in range(3)]
    worker = start_worker("default", name="judge", **broker_env)
    with openai_server() as server:
        server.responder = content_judge
        judge = endpoint_judge(project, server, batch_size=2)
        job = finished(judge_job_create(judge=judge, user=project.created_by), worker, 120)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.done, job.labels_written) == (3, 6)
    assert {label.payload["choice"] for label in JudgeLabel.objects.filter(task__in=tasks)} == {"A"}
    assert "judges.run_job" in worker.log()


def test_a_real_worker_stops_a_cancelled_job_between_batches(start_worker, broker_env, project):  # noqa: F811
    for i in range(12):
        make_task(project, texts=[f"good {i}", f"poor {i}"])
    worker = start_worker("default", name="judge", **broker_env)
    with openai_server(*[Step(reply="A slightly", delay=0.3) for _ in range(24)]) as server:
        job = judge_job_create(
            judge=endpoint_judge(project, server, batch_size=1), user=project.created_by
        )
        deadline = time.monotonic() + 90
        while JudgeJob.objects.get(pk=job.pk).done < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        judge_job_cancel(job=job)
        job = finished(job, worker, 30)

    assert job.status == JobStatus.CANCELLED
    assert 2 <= job.done < 12
    assert JudgeLabel.objects.count() == 2 * job.done  # whole batches only
