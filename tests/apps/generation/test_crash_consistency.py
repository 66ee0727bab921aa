"""Generation jobs, killed at each commit boundary and delivered again, delivered twice at once,
or with their pool process SIGKILLed mid-job: the responses and tasks a clean run makes, none
twice, and every job ends."""

import os
import signal

import pytest
from django.db.models import Count

from apps.core.jobs import JobStatus
from apps.corpus.models import Response
from apps.generation.models import GenerationJob
from apps.generation.services import generation_job_create, generation_job_run
from apps.labeling.models import Task
from tests.apps.core.crash import crash_then_deliver_again, deliver_at_once
from tests.apps.exports.test_crash_consistency import wait_until
from tests.apps.generation.openai_server import openai_server
from tests.apps.generation.test_jobs import distinct_steps, prompts_of, server_model

pytestmark = pytest.mark.django_db

# 5 prompts in batches of 2 (three batches), two replies each: 10 responses, 5 pair tasks.
PROMPTS, CLEAN = 5, {"done": 5, "responses_created": 10, "tasks_created": 5}


def queue_job(project, server, capture_on_commit=None) -> GenerationJob:
    def make():
        return generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)], batch_size=2
        )

    if capture_on_commit is None:
        return make()
    with capture_on_commit(execute=False):  # its message is delivered by each test
        return make()


def assert_ends_as_a_clean_run(job: GenerationJob) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert {field: getattr(job, field) for field in CLEAN} == CLEAN
    assert Response.objects.count() == 10 and Task.objects.count() == 5
    per_prompt = (
        Response.objects.values("prompt").annotate(n=Count("id")).values_list("n", flat=True)
    )
    assert sorted(per_prompt) == [2] * PROMPTS  # no prompt answered twice


@pytest.mark.parametrize(
    ("point", "hit", "attempts"),
    [
        ("job.claimed", 1, 2),
        ("generation.between_batches", 2, 2),  # the first batch committed
        ("generation.between_batches", 3, 2),  # the second one too
        ("generation.written", 1, 2),
        ("job.finished", 1, 1),
    ],
)
def test_a_job_killed_at_a_commit_boundary_and_delivered_again_ends_as_a_clean_run(
    point, hit, attempts, project, django_capture_on_commit_callbacks
):
    prompts_of(project, PROMPTS)
    with openai_server(*distinct_steps(10, n=2)) as server:
        job = queue_job(project, server, django_capture_on_commit_callbacks)

        reached = crash_then_deliver_again(
            lambda: generation_job_run(job_id=job.pk, worker="w"),
            point=point,
            hit=hit,
            capture_on_commit=django_capture_on_commit_callbacks,
        )

    assert reached[-1] == point
    assert_ends_as_a_clean_run(job)
    assert job.attempts == attempts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_write_each_prompts_replies_once(project):
    prompts_of(project, PROMPTS)
    with openai_server(*distinct_steps(10, n=2)) as server:
        job = queue_job(project, server)

        raised = deliver_at_once(lambda worker: generation_job_run(job_id=job.pk, worker=worker))

    assert raised == []
    assert_ends_as_a_clean_run(job)
    assert job.attempts == 1


@pytest.mark.worker
@pytest.mark.postgres
def test_a_job_whose_pool_process_is_killed_goes_on_where_it_stopped(
    start_worker, project, tmp_path
):
    prompts_of(project, PROMPTS)
    flag = tmp_path / "paused"
    with openai_server(*distinct_steps(10, n=2)) as server:
        worker = start_worker(
            "default",
            name="generator",
            app="tests.apps.core.pausing_worker",
            pool="prefork",
            ARBITER_TEST_PAUSE_AT="generation.between_batches",
            ARBITER_TEST_PAUSE_HIT="2",  # once the first batch is committed
            ARBITER_TEST_PAUSE_FLAG=str(flag),
        )
        job = queue_job(project, server)
        wait_until(flag.exists, what="the first batch to be written", worker=worker)
        assert Response.objects.count() == 4

        os.kill(int(flag.read_text()), signal.SIGKILL)  # as the kernel's out-of-memory killer would

        wait_until(
            lambda: GenerationJob.objects.get(pk=job.pk).is_finished,
            what="the job to end",
            worker=worker,
        )
    assert_ends_as_a_clean_run(job)
    assert job.attempts == 2
    # One request per prompt: the first batch's prompts were not sampled again.
    assert len(server.requests) == PROMPTS


def test_a_job_whose_workers_keep_dying_fails_with_the_reason_once_its_attempts_are_spent(
    project, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.jobs import jobs_reap

    silent_since = timezone.now() - timedelta(seconds=settings.ARBITER_JOB_STALE_SECONDS + 5)
    job = GenerationJob.objects.create(
        project=project,
        created_by=project.created_by,
        backends=[],
        status=JobStatus.RUNNING,
        attempts=3,
        max_attempts=3,
        worker="gpu0 pid 1 on elsewhere",
        heartbeat_at=silent_since,
    )

    outcome = jobs_reap()

    job.refresh_from_db()
    assert outcome["generation.GenerationJob"]["failed"] == [job.pk]
    assert job.status == JobStatus.FAILED
    assert "worker gpu0 pid 1 on elsewhere stopped answering" in job.error
    assert job.error.endswith("after 3 attempts.")
