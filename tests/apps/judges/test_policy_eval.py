"""A judge evaluates a policy: its answers against its base model's, in both orders."""

import shutil

import pytest
import torch
from transformers import GPT2LMHeadModel

from apps.core.jobs import JobStatus
from apps.generation import backends
from apps.generation.backends import backend_from_config
from apps.judges.services import judge_job_run, judge_policy_eval_create
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir
from tests.apps.generation.openai_server import openai_server
from tests.apps.judges.conftest import endpoint_judge, shown_answers
from tests.factories import PromptFactory
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy_run(project, settings, tmp_path):
    """A succeeded policy run whose model is its tiny base with its weights moved."""
    settings.MEDIA_ROOT = str(tmp_path / "storage")
    base = build_tiny_gpt2(tmp_path / "models" / "tiny-gpt2")
    run = TrainingRun.objects.create(
        project=project,
        objective="dpo",
        family="policy",
        config={"model": offer(settings, base)},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
        metrics={"win_rate_vs_base": 0.75},
    )
    run.output_dir = f"runs/{run.pk}"
    run.save(update_fields=["output_dir"])
    shutil.copytree(base, run_model_dir(run))
    model = GPT2LMHeadModel.from_pretrained(base)
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
    model.save_pretrained(run_model_dir(run))
    yield run
    backends.clear_model_cache()


def greedy(folder, messages) -> str:
    backend = backend_from_config({"type": "transformers", "model": str(folder), "device": "cpu"})
    return backend.generate(messages, temperature=0.0, max_tokens=8)[0]


def test_a_judge_that_prefers_the_policy_in_both_orders_gives_it_every_win(project, policy_run):
    prompts = [PromptFactory(project=project) for _ in range(3)]
    policy_answers = {greedy(run_model_dir(policy_run), p.messages) for p in prompts}

    def prefers_policy(body):
        answers = shown_answers(body)
        return "A clearly" if answers["A"] in policy_answers else "B clearly"

    with openai_server() as server:
        server.responder = prefers_policy
        judge = endpoint_judge(project, server, batch_size=1)
        job = judge_policy_eval_create(
            judge=judge, user=project.created_by, run_id=policy_run.pk, prompts=3, max_tokens=8
        )
        job = judge_job_run(job_id=job.pk, worker="inline")
        assert len(server.requests) == 6  # every prompt, both orders

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.results["win_rate"] == 1.0
    assert (job.results["wins"], job.results["losses"], job.results["ties"]) == (3, 0, 0)


def test_a_judge_that_only_picks_the_first_shown_scores_an_even_half(client, project, policy_run):
    PromptFactory(project=project)
    PromptFactory(project=project)
    with openai_server() as server:
        server.responder = lambda body: "A slightly"
        judge = endpoint_judge(project, server)
        job = judge_policy_eval_create(
            judge=judge, user=project.created_by, run_id=policy_run.pk, prompts=2, max_tokens=8
        )
        job = judge_job_run(job_id=job.pk, worker="inline")

    assert job.results["win_rate"] == 0.5 and job.results["ties"] == 2
    client.force_login(project.created_by)
    page = client.get(f"/judge-jobs/{job.pk}/").content.decode()
    assert "win rate by this judge <strong>0.500</strong>" in page
    assert "<strong>0.750</strong> (its own samples)" in page  # the reward model's, beside it
