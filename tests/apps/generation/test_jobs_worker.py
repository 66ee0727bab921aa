"""Generation jobs run by a real Celery worker process on the real broker."""

import time

import pytest
from django.conf import settings

from apps.core.jobs import JobStatus
from apps.corpus.models import Response
from apps.generation.models import GenerationJob
from apps.generation.services import generation_job_cancel, generation_job_create
from apps.labeling.models import Task
from apps.projects.models import Membership, Role
from tests.apps.generation.openai_server import Step, completion, openai_server
from tests.factories import ProjectFactory, PromptFactory, StaffFactory
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("loopback_model_servers"),
]


@pytest.fixture
def loopback_model_servers(settings):
    """The operator allows model servers on this machine: the worker, started before the fake
    server, inherits the allow-list (tests/conftest.py passes it on)."""
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]


@pytest.fixture
def broker_env(tmp_path):
    """On the filesystem broker, a folder of this test's own, so that a worker of another test
    run on this machine never takes its messages (nor this worker theirs)."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        yield {}
        return
    from config.celery import app

    folder = tmp_path / "broker"
    for name in ("out", "processed"):
        (folder / name).mkdir(parents=True)
    before = app.conf.broker_transport_options
    app.conf.broker_transport_options = {
        **before,
        "data_folder_in": str(folder / "out"),
        "data_folder_out": str(folder / "out"),
        "processed_folder": str(folder / "processed"),
    }
    app._pool, app.amqp._producer_pool = None, None  # connections are made from the options
    yield {"CELERY_BROKER_DIR": str(folder)}
    app.conf.broker_transport_options = before
    app._pool, app.amqp._producer_pool = None, None


@pytest.fixture
def project():
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project


def wait_for(predicate, *, timeout: float, what: str, worker):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{worker.log()[-3000:]}")
        time.sleep(0.2)
    return value


def job_row(job) -> GenerationJob:
    return GenerationJob.objects.get(pk=job.pk)


def test_a_real_worker_samples_a_local_model_and_an_endpoint_into_tasks(
    start_worker, broker_env, project, tmp_path, settings
):
    # Offered before the worker starts: it reads the model roots from its environment.
    tiny = offer(settings, build_tiny_gpt2(tmp_path / "models" / "tiny-gpt2"))
    prompts = [PromptFactory(project=project) for _ in range(4)]
    worker = start_worker("default", name="generator", **broker_env)
    with openai_server(*[Step(reply=f"Server answer {i}.") for i in range(4)]) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[
                {"type": "transformers", "model": tiny, "device": "cpu", "name": "tiny"},
                {"type": "openai", "base_url": server.base_url, "model": "served", "timeout": 10},
            ],
            n_per_prompt=1,
            temperature=1.0,
            max_tokens=8,
            batch_size=2,
            pairing="across_models",
        )
        finished = wait_for(
            lambda: (row := job_row(job)).is_finished and row,
            timeout=120,
            what="the job to end",
            worker=worker,
        )

    assert finished.status == JobStatus.SUCCEEDED, finished.error
    assert (finished.done, finished.responses_created, finished.tasks_created) == (4, 8, 4)
    assert len(server.requests) == 4
    for prompt in prompts:
        assert sorted(prompt.responses.values_list("source", flat=True)) == ["served", "tiny"]
    task = Task.objects.filter(project=project).first()
    assert [i.response.source for i in task.items.order_by("position")] == ["tiny", "served"]
    assert "generation.run_job" in worker.log()


def test_a_real_worker_stops_a_cancelled_job_between_batches(start_worker, broker_env, project):
    for _ in range(20):
        PromptFactory(project=project)
    worker = start_worker("default", name="generator", **broker_env)
    steps = [Step(body=completion(f"A{i}.", f"B{i}."), delay=0.3) for i in range(20)]
    with openai_server(*steps) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[{"type": "openai", "base_url": server.base_url, "model": "slow"}],
            batch_size=1,
        )
        wait_for(lambda: job_row(job).done >= 2, timeout=90, what="two batches", worker=worker)
        generation_job_cancel(job=job)
        finished = wait_for(
            lambda: (row := job_row(job)).is_finished and row,
            timeout=30,
            what="the cancel",
            worker=worker,
        )

    assert finished.status == JobStatus.CANCELLED
    assert 2 <= finished.done < 20
    # Every batch that started was written whole, and nothing after the cancel was asked.
    assert Response.objects.count() == 2 * finished.done == len(server.requests) * 2
    assert Task.objects.count() == finished.done
