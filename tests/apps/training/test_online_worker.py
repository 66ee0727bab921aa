"""GRPO launched over the API trains on a real training worker, whose operator registered the
checkers it rewards with; a checker that raises fails the run with its reason."""

import pytest
from rest_framework.test import APIClient

from apps.projects.models import Membership, Role
from apps.training.models import RunStatus, TrainingRun
from tests.apps.training.conftest import seed_pairwise_labels
from tests.apps.training.test_worker import run_status, wait_for
from tests.factories import ProjectFactory, StaffFactory, api_token
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CHECKERS = "tests.apps.training.checkers"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARBITER_REWARD_CHECKER_MODULES = [CHECKERS]


@pytest.fixture
def project():
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    seed_pairwise_labels(project, prompts=16)
    return project


def launch_over_api(project, config: dict) -> TrainingRun:
    import importlib

    importlib.import_module(CHECKERS)  # as the web process does at start-up
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(project.created_by)}")
    answer = client.post(
        f"/api/projects/{project.pk}/runs/",
        {"objective": "grpo", "config": config},
        format="json",
    )
    assert answer.status_code == 201, answer.data
    return TrainingRun.objects.get(pk=answer.data["id"])


def small(policy: str, checker: str) -> dict:
    return {
        "model": policy,
        "checkers": [checker],
        "regex_rewards": ["e"],
        "regex_weights": [0.5],
        "batch_size": 2,
        "num_generations": 2,
        "max_steps": 2,
        "max_new_tokens": 6,
        "learning_rate": 1e-3,
        "save_steps": 0,
        "eval_max_prompts": 2,
        "eval_max_new_tokens": 6,
    }


def test_grpo_launched_over_the_api_trains_on_a_worker_with_a_registered_checker(
    start_worker, project, settings, tmp_path
):
    policy = offer(settings, build_tiny_gpt2(tmp_path / "models" / "tiny-gpt2"))
    worker = start_worker("training", name="trainer", ARBITER_REWARD_CHECKER_MODULES=CHECKERS)
    run = launch_over_api(project, small(policy, "tests.mentions_good_word"))
    wait_for(
        lambda: run_status(run) in ("succeeded", "failed"),
        timeout=300,
        what="the grpo run to end",
        worker=worker,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.step == run.total_steps == 2
    assert {"kl_to_reference", "response_length"} <= set(run.metrics)
    assert run.log_lines.filter(line__contains="checker:tests.mentions_good_word").exists()


def test_a_raising_checker_fails_the_run_on_the_worker_with_its_reason(
    start_worker, project, settings, tmp_path
):
    policy = offer(settings, build_tiny_gpt2(tmp_path / "models" / "tiny-gpt2"))
    worker = start_worker("training", name="trainer", ARBITER_REWARD_CHECKER_MODULES=CHECKERS)
    run = launch_over_api(project, small(policy, "tests.always_raises"))
    wait_for(
        lambda: run_status(run) in ("succeeded", "failed"),
        timeout=300,
        what="the grpo run to end",
        worker=worker,
    )
    assert run.status == RunStatus.FAILED
    assert "'tests.always_raises' raised RuntimeError: the answer key is missing" in run.error
