"""Generation jobs run in-process: a tiny local GPT-2 and the scripted OpenAI-compatible server."""

import re
import shutil
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.errors import ApplicationError, Conflict
from apps.core.jobs import JobStatus, SimulatedCrash, crash_at
from apps.corpus.models import Response
from apps.generation import backends
from apps.generation.backends import OpenAICompatibleBackend
from apps.generation.models import GenerationJob, Pairing, Selection
from apps.generation.services import (
    generation_job_cancel,
    generation_job_create,
    generation_job_resume,
    generation_job_run,
)
from apps.labeling.models import Task
from apps.projects.models import FeedbackKind, PairStrategy
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir
from tests.apps.generation.openai_server import Step, completion, openai_server
from tests.factories import ProjectFactory, PromptFactory, ResponseFactory
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    yield build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")
    backends.clear_model_cache()


@pytest.fixture
def tiny_gpt2_ref(tiny_gpt2, settings) -> str:
    """The tiny policy as jobs name it: a base model the operator made available."""
    return offer(settings, tiny_gpt2)


def server_model(server, model: str = "fake-model", **config) -> dict:
    return {
        "type": "openai",
        "base_url": server.base_url,
        "model": model,
        "timeout": 5,
        "backoff": 0.01,
        **config,
    }


def distinct_steps(count: int, n: int = 1, tag: str = "reply") -> list[Step]:
    """One step per request, each answering `n` texts no other step answers."""
    return [Step(body=completion(*[f"{tag} {i}.{k}" for k in range(n)])) for i in range(count)]


def prompts_of(project, count: int):
    return [PromptFactory(project=project) for _ in range(count)]


def run(job: GenerationJob) -> GenerationJob:
    return generation_job_run(job_id=job.pk, worker="inline")


def test_a_local_model_job_samples_each_prompt_and_pairs_its_responses(project, tiny_gpt2_ref):
    prompts = prompts_of(project, 3)

    job = generation_job_create(
        project=project,
        user=project.created_by,
        backends=[
            {"type": "transformers", "model": tiny_gpt2_ref, "device": "cpu", "name": "tiny"}
        ],
        n_per_prompt=2,
        temperature=1.0,
        top_p=0.95,
        max_tokens=8,
        batch_size=2,
    )
    job = run(job)

    assert job.status == JobStatus.SUCCEEDED, job.error
    # A random tiny model's replies are random bytes: never empty or equal in practice.
    assert (job.done, job.total, job.responses_created, job.tasks_created) == (3, 3, 6, 3)
    for prompt in prompts:
        responses = list(prompt.responses.all())
        assert len(responses) == 2
        for sample, response in enumerate(responses):
            assert response.source == "tiny"
            assert response.metadata == {
                "generation_job": job.pk,
                "temperature": 1.0,
                "top_p": 0.95,
                "max_tokens": 8,
                "backend": "transformers",
                "model": tiny_gpt2_ref,  # the reference, never the folder it names
                "sample": sample,
            }
    for task in Task.objects.filter(project=project):
        assert task.kind == FeedbackKind.PAIRWISE
        assert task.context == {"generation_job": job.pk}
        items = list(task.items.order_by("position"))
        assert len(items) == 2 and {i.response.prompt_id for i in items} == {task.prompt_id}


def test_an_endpoint_job_records_the_settings_and_pairs_across_models(project):
    prompts_of(project, 4)
    with openai_server(*distinct_steps(8)) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server, "alpha"), server_model(server, "beta")],
            n_per_prompt=1,
            temperature=0.3,
            top_p=0.8,
            max_tokens=64,
            batch_size=3,
            pairing=Pairing.ACROSS_MODELS,
        )
        job = run(job)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert len(server.requests) == 8
    for request in server.requests:
        body = request["json"]
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.8, 64)
        assert body["messages"][0]["content"].startswith("Question number")
    assert job.tasks_created == 4
    for task in Task.objects.filter(project=project):
        sources = [item.response.source for item in task.items.order_by("position")]
        assert sources == ["alpha", "beta"]
    response = Response.objects.filter(source="beta").first()
    assert response.metadata["backend"] == "openai"
    assert response.metadata["model"] == "beta"
    assert "api_key" not in str(response.metadata)


def test_pairs_across_models_never_pair_two_samples_of_one_model(project):
    prompts_of(project, 1)
    with openai_server(*distinct_steps(2, n=2)) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server, "alpha"), server_model(server, "beta")],
            n_per_prompt=2,
            pairing=Pairing.ACROSS_MODELS,
        )
        run(job)
    pairs = [
        [item.response.source for item in task.items.all()]
        for task in Task.objects.filter(project=project)
    ]
    assert len(pairs) == 4 and all(set(pair) == {"alpha", "beta"} for pair in pairs)


@pytest.mark.parametrize(
    ("kind", "n", "tasks", "sizes"),
    [
        (FeedbackKind.PAIRWISE, 3, 3, {2}),
        (FeedbackKind.LISTWISE, 3, 1, {3}),
        (FeedbackKind.THUMBS, 2, 2, {1}),
        (FeedbackKind.PRINCIPLES, 1, 1, {1}),
        (FeedbackKind.HINDSIGHT, 2, 1, {2}),
    ],
)
def test_tasks_of_the_project_kind_are_made_from_each_prompts_responses(
    admin_user, kind, n, tasks, sizes
):
    project = ProjectFactory(kind=kind, created_by=admin_user)
    prompts_of(project, 2)
    with openai_server(*distinct_steps(2, n=n)) as server:
        job = generation_job_create(
            project=project,
            user=admin_user,
            backends=[server_model(server)],
            n_per_prompt=n,
            temperature=1.0,
        )
        job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    made = Task.objects.filter(project=project)
    assert made.count() == job.tasks_created == 2 * tasks
    assert {task.items.count() for task in made} == sizes
    assert all(task.kind == kind and task.consequence == "" for task in made)


def test_sampled_pairs_stay_under_the_limit(project):
    prompts_of(project, 1)
    with openai_server(*distinct_steps(1, n=5)) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server)],
            n_per_prompt=5,
            pair_strategy=PairStrategy.SAMPLED,
            max_pairs_per_prompt=3,
        )
        job = run(job)
    assert job.tasks_created == 3  # of the 10 possible pairs


def test_repeated_and_empty_replies_are_stored_but_not_paired(project):
    prompts_of(project, 2)
    with openai_server(
        Step(body=completion("Same.", "Same.")), Step(body=completion("", "   "))
    ) as server:
        job = generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)], batch_size=1
        )
        job = run(job)
    assert job.status == JobStatus.SUCCEEDED
    assert (job.responses_created, job.responses_unused, job.tasks_created) == (4, 3, 0)


def test_replies_holding_nul_or_a_lone_surrogate_are_stored_without_them(project):
    """PostgreSQL refuses NUL in text, and UTF-8 cannot encode a lone surrogate."""
    prompts_of(project, 1)
    with openai_server(Step(body=completion("Par\x00is.", "Lyon\ud800."))) as server:
        job = generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)]
        )
        job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert sorted(Response.objects.values_list("text", flat=True)) == ["Lyon\ufffd.", "Paris."]
    assert job.tasks_created == 1


def test_only_the_chosen_prompts_are_sampled(project):
    answered, fresh, listed = PromptFactory(project=project), *prompts_of(project, 2)
    ResponseFactory(prompt=answered)
    with openai_server(*distinct_steps(10, n=2)) as server:
        without = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server)],
            selection=Selection.WITHOUT_RESPONSES,
        )
        chosen = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server)],
            selection=Selection.LISTED,
            prompt_ids=[listed.pk],
        )
    assert without.item_ids == [fresh.pk, listed.pk]
    assert chosen.item_ids == [listed.pk] and chosen.total == 1


def test_a_failing_endpoint_is_retried_with_backoff_then_fails_the_job_keeping_earlier_batches(
    project,
):
    first, *_ = prompts_of(project, 3)
    with openai_server(
        Step(body=completion("Kept one.", "Kept two.")),
        Step(status=500, body='{"error": "overloaded"}'),
        Step(delay=3),  # longer than the client's timeout
        Step(body='{"choices": [ oops'),
    ) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server, "flaky", timeout=0.5, backoff=0.2, max_retries=2)],
            batch_size=1,
        )
        started = time.monotonic()
        job = run(job)
        took = time.monotonic() - started

    assert job.status == JobStatus.FAILED
    assert job.error.startswith("flaky: The generation server failed after 3 attempts")
    assert "malformed JSON" in job.error
    assert len(server.requests) == 4
    assert took >= 0.2 + 0.4 + 0.5, "backoff, twice the backoff, and one timeout"
    assert (job.done, job.responses_created, job.tasks_created) == (1, 2, 1)
    assert sorted(Response.objects.values_list("text", flat=True)) == ["Kept one.", "Kept two."]
    assert Response.objects.get(text="Kept one.").prompt_id == first.pk
    assert job.finished_at is not None


def test_a_resumed_job_skips_the_prompts_it_already_wrote(
    project, django_capture_on_commit_callbacks
):
    prompts = prompts_of(project, 3)
    with openai_server(
        Step(body=completion("First a.", "First b.")),
        *[Step(status=503, body="busy")] * 3,
        *distinct_steps(2, n=2, tag="later"),
    ) as server:
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[server_model(server, max_retries=2)],
            batch_size=1,
        )
        assert run(job).status == JobStatus.FAILED

        with django_capture_on_commit_callbacks() as queued:
            generation_job_resume(job=job)
        assert len(queued) == 1
        job = run(job)

    assert job.status == JobStatus.SUCCEEDED and job.error == ""
    assert (job.done, job.responses_created, job.tasks_created) == (3, 6, 3)
    assert [p.responses.count() for p in prompts] == [2, 2, 2]
    assert len(server.requests) == 1 + 3 + 2


def test_a_rerun_of_a_job_whose_worker_died_writes_nothing_twice(project):
    prompts_of(project, 2)
    with openai_server(*distinct_steps(2, n=2)) as server:
        job = generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)]
        )
        with crash_at("generation.written"), pytest.raises(SimulatedCrash):
            run(job)
        # The worker wrote every batch, then died before marking the job finished; once its
        # heartbeat is stale, the next delivery takes the job over.
        stale = timezone.now() - timedelta(hours=1)
        GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
        job = run(job)
        assert run(job).status == JobStatus.SUCCEEDED  # and a finished job is left as is

    assert len(server.requests) == 2
    assert (job.done, job.responses_created, job.tasks_created) == (2, 4, 2)
    assert Response.objects.count() == 4 and Task.objects.count() == 2


def test_the_celery_task_is_safe_to_run_twice(project):
    from apps.generation.tasks import run_job

    prompts_of(project, 3)
    with openai_server(*distinct_steps(3, n=2)) as server:
        job = generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)], batch_size=2
        )
        assert run_job(job.pk) == run_job(job.pk) == JobStatus.SUCCEEDED
    assert len(server.requests) == 3
    assert Response.objects.count() == 6 and Task.objects.count() == 3


def test_cancel_stops_the_job_between_batches_keeping_the_batch_in_hand(project, monkeypatch):
    prompts_of(project, 6)
    with openai_server(*distinct_steps(6, n=2)) as server:
        job = generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)], batch_size=2
        )
        generate = OpenAICompatibleBackend._generate_batch

        def generate_then_cancel(self, conversations, sampling):
            replies = generate(self, conversations, sampling)
            generation_job_cancel(job=job)  # the admin presses Cancel while batch 1 is sampled
            return replies

        monkeypatch.setattr(OpenAICompatibleBackend, "_generate_batch", generate_then_cancel)
        job = run(job)

    assert job.status == JobStatus.CANCELLED
    assert (job.done, job.total, job.responses_created, job.tasks_created) == (2, 6, 4, 2)
    assert len(server.requests) == 2


def test_a_job_cancelled_while_queued_never_runs(project):
    prompts_of(project, 1)
    with openai_server() as server:
        job = generation_job_create(
            project=project, user=project.created_by, backends=[server_model(server)]
        )
        assert generation_job_cancel(job=job).status == JobStatus.CANCELLED
        assert run(job).status == JobStatus.CANCELLED
        with pytest.raises(Conflict):
            generation_job_cancel(job=job)
    assert server.requests == [] and Response.objects.count() == 0


def test_a_trained_policy_run_samples_from_its_model_directory(
    project, tiny_gpt2, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "storage")
    prompts_of(project, 2)
    run_row = TrainingRun.objects.create(
        project=project,
        objective="dpo",
        family="policy",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
    )
    run_row.output_dir = f"runs/{run_row.pk}"
    run_row.save(update_fields=["output_dir"])
    shutil.copytree(tiny_gpt2, run_model_dir(run_row))

    job = generation_job_create(
        project=project,
        user=project.created_by,
        backends=[{"training_run": run_row.pk, "device": "cpu"}],
        temperature=1.0,
        max_tokens=6,
    )
    job = run(job)

    assert job.status == JobStatus.SUCCEEDED, job.error
    response = Response.objects.first()
    assert response.source == f"policy run {run_row.pk} (dpo)"
    assert response.metadata["training_run"] == run_row.pk
    assert response.metadata["model"] == f"run:{run_row.pk}"


def test_the_job_is_queued_once_its_transaction_commits(
    project, django_capture_on_commit_callbacks, monkeypatch
):
    from apps.generation import tasks

    sent = []
    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: sent.append(job_id))
    prompts_of(project, 1)
    with django_capture_on_commit_callbacks(execute=True):
        job = generation_job_create(
            project=project,
            user=project.created_by,
            backends=[{"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}],
        )
        assert sent == []
    assert sent == [job.pk]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"backends": []}, "at least one model"),
        (
            {"backends": [{"type": "transformers", "model": "/no/such/model"}]},
            "is not one of the models this project may use",
        ),
        ({"backends": [{"training_run": 999_999}]}, "not a succeeded policy run"),
        ({"n_per_prompt": 3, "temperature": 0.0}, "temperature 0"),
        ({"pairing": Pairing.ACROSS_MODELS}, "at least two models"),
        ({"selection": Selection.LISTED, "prompt_ids": [999_999]}, "Not prompts of this project"),
        ({"n_per_prompt": 1}, "needs at least 2 responses"),
        ({"top_p": 0}, "Top-p"),
        (
            {"backends": [{"type": "openai", "base_url": "x", "model": "m"}]},
            "must be an http(s) URL",
        ),
    ],
)
def test_a_job_that_cannot_work_is_refused_with_the_reason(project, change, message):
    prompts_of(project, 1)
    arguments = {
        "backends": [{"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}],
        **change,
    }
    with pytest.raises(ApplicationError, match=re.escape(message)):
        generation_job_create(project=project, user=project.created_by, **arguments)
    assert not GenerationJob.objects.exists()


def test_chat_projects_take_no_generation_jobs(admin_user):
    project = ProjectFactory(kind=FeedbackKind.CHAT, created_by=admin_user)
    with pytest.raises(ApplicationError, match="live"):
        generation_job_create(
            project=project,
            user=admin_user,
            backends=[{"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"}],
        )
