"""Launching the online objectives (GRPO, RLOO) from the app, and the reward-hacking watch on the
run page."""

import importlib

import pytest
from django.utils import timezone

from apps.autopilot.models import Champion
from apps.core.errors import ApplicationError
from apps.training.model_choices import trainer_config_resolve
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import training_run_launch
from tests.factories import api_token
from tests.models_offered import offer, unloaded_model

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def policy_ref(settings, tmp_path) -> str:
    return offer(settings, unloaded_model(tmp_path / "models" / "tiny-policy"))


@pytest.fixture
def registered_checkers():
    """The test checkers, registered as an operator's module registers them."""
    importlib.import_module("tests.apps.training.checkers")


def reward_run(project, settings, *, minutes_ago: int) -> TrainingRun:
    """A succeeded reward-model run with a model folder in storage (never loaded here)."""
    run = TrainingRun.objects.create(
        project=project,
        objective="reward_pairwise",
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
        finished_at=timezone.now() - timezone.timedelta(minutes=minutes_ago),
    )
    run.output_dir = f"runs/{run.pk}"
    run.save(update_fields=["output_dir"])
    unloaded_model(settings.MEDIA_ROOT / run.output_dir / "output" / "model")
    return run


def launch(project, **kwargs):
    return training_run_launch(project=project, user=project.created_by, **kwargs)


def test_grpo_optimises_the_champion_by_default_and_is_watched_by_another_reward_run(
    labeled_project, settings, policy_ref
):
    champion = reward_run(labeled_project, settings, minutes_ago=30)
    newest_other = reward_run(labeled_project, settings, minutes_ago=5)
    reward_run(labeled_project, settings, minutes_ago=60)
    Champion.objects.create(project=labeled_project, family="reward", run=champion)

    run = launch(labeled_project, objective="grpo", config={"model": policy_ref})

    assert run.config["reward_models"] == [f"run:{champion.pk}"]
    assert run.config["heldout_judge_reward_model"] == f"run:{newest_other.pk}"
    assert run.family == "policy" and run.snapshot.kind == "pairs"


def test_rloo_reward_run_chosen_is_weighted_beside_a_regex_and_a_checker(
    labeled_project, settings, policy_ref, registered_checkers
):
    chosen = reward_run(labeled_project, settings, minutes_ago=1)
    config = {
        "model": policy_ref,
        "regex_rewards": ["great"],
        "regex_weights": [0.5],
        "checkers": ["tests.mentions_good_word"],
        "heldout_judge_reward_model": None,
    }
    run = launch(labeled_project, objective="rloo", config=config, reward_run_id=chosen.pk)
    assert run.config["reward_models"] == [f"run:{chosen.pk}"]
    assert run.config["heldout_judge_reward_model"] is None  # opted out
    resolved = trainer_config_resolve(run=run)
    assert resolved["reward_models"] == [
        str(settings.MEDIA_ROOT / chosen.output_dir / "output" / "model")
    ]


def test_an_online_run_without_any_reward_is_refused(labeled_project, policy_ref):
    with pytest.raises(ApplicationError, match="needs a reward"):
        launch(labeled_project, objective="grpo", config={"model": policy_ref})


def test_a_checker_the_operator_did_not_register_is_refused(labeled_project, policy_ref):
    with pytest.raises(ApplicationError, match=r"Unknown checker 'os\.system'"):
        launch(
            labeled_project,
            objective="grpo",
            config={"model": policy_ref, "checkers": ["os.system"]},
        )


def test_another_projects_reward_run_is_refused_as_a_reward(labeled_project, settings, policy_ref):
    from tests.factories import ProjectFactory

    elsewhere = reward_run(ProjectFactory(), settings, minutes_ago=1)
    with pytest.raises(ApplicationError, match="not a succeeded reward run of this project"):
        launch(
            labeled_project,
            objective="grpo",
            config={"model": policy_ref, "reward_models": [f"run:{elsewhere.pk}"]},
        )


def test_grpo_launches_over_the_api_with_its_reward_config(
    labeled_project, settings, policy_ref, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    chosen = reward_run(labeled_project, settings, minutes_ago=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(labeled_project.created_by)}")
    with django_capture_on_commit_callbacks(execute=False):
        answer = client.post(
            f"/api/projects/{labeled_project.pk}/runs/",
            {
                "objective": "grpo",
                "config": {
                    "model": policy_ref,
                    "reward_models": [f"run:{chosen.pk}"],
                    "reward_weights": [2.0],
                    "beta": 0.1,
                },
            },
            format="json",
        )
    assert answer.status_code == 201, answer.data
    assert answer.data["config"]["reward_weights"] == [2.0]
    bad = client.post(
        f"/api/projects/{labeled_project.pk}/runs/",
        {"objective": "grpo", "config": {"model": policy_ref, "regex_rewards": ["(unclosed"]}},
        format="json",
    )
    assert bad.status_code == 400 and "does not compile" in bad.data["detail"]


def policy_run_with(project, metrics: dict) -> TrainingRun:
    return TrainingRun.objects.create(
        project=project,
        objective="grpo",
        family="policy",
        config={"heldout_judge_reward_model": "run:7"},
        status=RunStatus.SUCCEEDED,
        metrics=metrics,
        created_by=project.created_by,
        output_dir="runs/none",
    )


WATCHED = {
    "watch_train_reward_gain": 0.8,
    "kl_to_reference": 0.12,
    "response_length": 30.0,
    "response_length_base": 12.0,
}


def test_the_run_page_flags_a_run_whose_training_reward_rose_while_the_judge_fell(
    client, labeled_project
):
    run = policy_run_with(
        labeled_project,
        {**WATCHED, "watch_heldout_judge_gain": -0.3, "watch_hacking_suspected": 1.0},
    )
    client.force_login(labeled_project.created_by)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'data-flag="hacking-suspected"' in page
    assert 'data-watch="train_reward_gain">0.8000' in page
    assert 'data-watch="heldout_judge_gain">-0.3000' in page
    assert 'data-watch="kl_to_base">0.1200' in page
    assert 'data-watch="response_length">30.0 / 12.0' in page


def test_the_run_page_shows_the_watch_without_a_flag_when_both_rewards_rose(
    client, labeled_project
):
    run = policy_run_with(
        labeled_project,
        {**WATCHED, "watch_heldout_judge_gain": 0.2, "watch_hacking_suspected": 0.0},
    )
    client.force_login(labeled_project.created_by)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="hacking-watch"' in page and "hacking-suspected" not in page


def test_the_launch_form_turns_online_fields_into_the_trainer_config(
    labeled_project, settings, policy_ref, registered_checkers
):
    from apps.training.forms import LaunchForm

    first = reward_run(labeled_project, settings, minutes_ago=2)
    second = reward_run(labeled_project, settings, minutes_ago=1)
    form = LaunchForm(
        {
            "objective": "rloo",
            "model": policy_ref,
            "num_epochs": 1,
            "eval_share": 0.2,
            "beta": 0.05,
            "reward_runs": [first.pk, second.pk],
            "reward_weights": "1, 0.5",
            "regex_rewards": "great\n\n^the",
            "checkers": ["tests.mentions_good_word"],
            "heldout_judge_run": second.pk,
        },
        project=labeled_project,
        objectives=["rloo"],
    )
    assert form.is_valid(), form.errors
    config = form.trainer_config()
    # In the order the form lists the runs (newest first), which the weights follow.
    listed = [run.pk for run in form.fields["reward_runs"].queryset]
    assert listed == [second.pk, first.pk]
    assert config["reward_models"] == [f"run:{second.pk}", f"run:{first.pk}"]
    assert config["reward_weights"] == [1.0, 0.5]
    assert config["regex_rewards"] == ["great", "^the"]
    assert config["checkers"] == ["tests.mentions_good_word"]
    assert config["heldout_judge_reward_model"] == f"run:{second.pk}"
    assert config["beta"] == 0.05
    bad = LaunchForm(
        {"objective": "rloo", "num_epochs": 1, "eval_share": 0.2, "reward_weights": "1, x"},
        project=labeled_project,
        objectives=["rloo"],
    )
    assert not bad.is_valid() and "reward_weights" in bad.errors


def test_the_autopilot_gate_judges_grpo_by_its_reward_model_and_refuses_a_suspected_hacker(
    labeled_project, settings
):
    from apps.autopilot.champions import policy_gate

    judge = reward_run(labeled_project, settings, minutes_ago=1)

    def challenger(**metrics):
        return TrainingRun.objects.create(
            project=labeled_project,
            objective="grpo",
            family="policy",
            config={"model": "base:models/tiny", "reward_models": [f"run:{judge.pk}"]},
            status=RunStatus.SUCCEEDED,
            metrics={"win_rate_vs_base": 0.75, **metrics},
            created_by=labeled_project.created_by,
        )

    fair = policy_gate(
        challenger=challenger(watch_hacking_suspected=0.0), champion=None, judge=judge
    )
    assert fair.promote, fair.reason
    hacker = policy_gate(
        challenger=challenger(watch_hacking_suspected=1.0), champion=None, judge=judge
    )
    assert not hacker.promote and "reward hacking suspected" in hacker.reason
