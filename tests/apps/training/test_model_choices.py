"""Models are chosen, never typed as paths: what a project is offered, what training refuses (the
launch service, the API and the form, for `model`, `reward_model` and `judge_reward_model`), and
the check made again on the worker."""

import os
import re
import shutil

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from apps.core.errors import ApplicationError
from apps.exports.models import Snapshot
from apps.projects.models import Membership, Role
from apps.training.model_choices import (
    model_choices,
    model_reference_check,
    model_reference_path,
    model_roots_check,
    trainer_config_resolve,
)
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir, training_run_execute, training_run_launch
from tests.factories import ProjectFactory, StaffFactory, api_token
from tests.models_offered import as_cached_hub_model, hostile_models, unloaded_model

pytestmark = pytest.mark.django_db


def succeeded_run(project, *, family: str) -> TrainingRun:
    """A finished run whose trained model lies where runs keep it."""
    run = TrainingRun.objects.create(
        project=project,
        objective="dpo" if family == "policy" else "reward_pairwise",
        family=family,
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=project.created_by,
    )
    run.output_dir = f"runs/{run.pk}"
    run.save(update_fields=["output_dir"])
    unloaded_model(run_model_dir(run))
    return run


@pytest.fixture
def other_project(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "storage"
    stranger = StaffFactory()
    other = ProjectFactory(created_by=stranger)
    Membership.objects.create(project=other, user=stranger, role=Role.ADMIN)
    return other


@pytest.fixture
def models(settings, tmp_path, other_project):
    other_run = succeeded_run(other_project, family="policy")
    settings.ARBITER_MODEL_HUB_CACHE = str(tmp_path / "hub")
    as_cached_hub_model(unloaded_model(tmp_path / "download"), tmp_path / "hub", "org/cached")
    return hostile_models(
        settings, tmp_path, other_run_dir=run_model_dir(other_run), other_run_id=other_run.pk
    )


ATTACKS = [
    "another project's run folder",
    "another project's run",
    "a model folder outside the roots",
    "a path that does not exist",
    "a relative path",
    "dot-dot out of a root",
    "dot-dot through a model",
    "a symlink out of a root",
    "a hidden folder",
    "a folder without a model",
    "an unknown root",
    "a model not in the cache",
]

# Where each model key of a trainer config is used, with the other settings it needs.
MODEL_KEYS = [("model", "dpo"), ("reward_model", "raft"), ("judge_reward_model", "dpo")]


def nothing_stored():
    return not TrainingRun.objects.filter(status=RunStatus.QUEUED).exists() and (
        not Snapshot.objects.exists()
    )


# --- what is offered ----------------------------------------------------------------------------


def test_a_project_is_offered_its_own_runs_the_operators_models_and_the_cached_ones(
    project, models, other_project
):
    own_policy = succeeded_run(project, family="policy")
    own_reward = succeeded_run(project, family="reward")

    offered = {choice.reference for choice in model_choices(project=project, family="policy")}

    assert offered == {f"run:{own_policy.pk}", models.base, models.nested, "hub:org/cached"}
    rewards = {choice.reference for choice in model_choices(project=project, family="reward")}
    assert f"run:{own_reward.pk}" in rewards and f"run:{own_policy.pk}" not in rewards


def test_the_models_api_lists_the_choices_for_admins_only(project, models, annotator):
    own_policy = succeeded_run(project, family="policy")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(project.created_by)}")

    listed = client.get(f"/api/projects/{project.pk}/models/", {"family": "policy"})

    assert listed.status_code == 200
    assert [row["reference"] for row in listed.data] == [
        f"run:{own_policy.pk}",
        models.nested,  # base models in folder order: org/nested, then tiny
        models.base,
        "hub:org/cached",
    ]
    assert listed.data[0]["group"] == "Runs"
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(annotator)}")
    assert client.get(f"/api/projects/{project.pk}/models/").status_code == 404


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize(("key", "objective"), MODEL_KEYS)
def test_launching_with_a_model_that_is_not_offered_is_refused_and_stores_nothing(
    project, models, attack, key, objective
):
    config = {"model": models.base, key: models.attacks[attack]}

    with pytest.raises(ApplicationError, match=r"is not one of the models|is not a succeeded"):
        training_run_launch(
            project=project, user=project.created_by, objective=objective, config=config
        )

    assert nothing_stored()


def test_a_reward_run_of_another_project_is_refused(project, models, other_project):
    other_reward = succeeded_run(other_project, family="reward")

    with pytest.raises(ApplicationError, match="not a succeeded reward run of this project"):
        training_run_launch(
            project=project,
            user=project.created_by,
            objective="dpo",
            config={"model": models.base},
            reward_run_id=other_reward.pk,
        )
    assert nothing_stored()


def test_a_run_of_the_wrong_family_is_refused(project, models):
    reward = succeeded_run(project, family="reward")

    # A policy starts from a policy run of a project its launcher administers: not a reward run.
    with pytest.raises(ApplicationError, match="is not a succeeded policy run of a project you"):
        training_run_launch(
            project=project,
            user=project.created_by,
            objective="dpo",
            config={"model": f"run:{reward.pk}"},
        )


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_runs_api_refuses_a_model_that_is_not_offered(project, models, attack):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(project.created_by)}")

    answer = client.post(
        f"/api/projects/{project.pk}/runs/",
        {"objective": "dpo", "config": {"model": models.attacks[attack]}},
        format="json",
    )

    assert answer.status_code == 400
    assert "is not one of the models" in answer.data["detail"] or (
        "is not a succeeded policy run" in answer.data["detail"]
    )
    assert nothing_stored()


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_launch_form_offers_choices_and_refuses_anything_else(client, project, models, attack):
    client.force_login(project.created_by)

    page = client.get(f"/projects/{project.pk}/runs/").content.decode()
    answer = client.post(
        f"/projects/{project.pk}/runs/",
        {"objective": "dpo", "model": models.attacks[attack], "num_epochs": 1, "eval_share": 0.2},
    )

    assert f'value="{models.base}"' in page and str(models.root) not in page
    assert answer.status_code == 200
    assert "is not one of the available choices" in answer.content.decode()
    assert nothing_stored()


def test_the_refusal_reads_the_same_whether_or_not_the_path_exists(models):
    def message(reference: str) -> str:
        with pytest.raises(ApplicationError) as refused:
            model_reference_check(reference=reference, project=None, family="policy")
        return re.sub(r"'[^']*'", "<reference>", refused.value.message, count=1)

    assert message(str(models.outside)) == message("/no/such/model")
    assert message(f"base:{models.root.name}/escape") == message(f"base:{models.root.name}/none")
    assert message(models.attacks["another project's run folder"]) == message("/no/such/model")


def test_roots_that_overlap_the_run_storage_or_share_a_name_are_a_configuration_error(
    settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.ARBITER_MODEL_ROOTS = [str(tmp_path)]
    with pytest.raises(ImproperlyConfigured, match="overlaps the storage root"):
        model_reference_check(reference="base:x/y", project=None, family="policy")
    settings.ARBITER_MODEL_ROOTS = [str(tmp_path / "a" / "models"), str(tmp_path / "b" / "models")]
    with pytest.raises(ImproperlyConfigured, match="named 'models'"):
        model_reference_check(reference="base:models/y", project=None, family="policy")
    assert [message.id for message in model_roots_check()] == ["arbiter.E101"]


def test_the_system_check_names_a_root_that_is_not_a_folder(settings, tmp_path):
    settings.ARBITER_MODEL_ROOTS = [str(tmp_path / "missing")]

    assert [message.id for message in model_roots_check()] == ["arbiter.W101"]
    settings.ARBITER_MODEL_ROOTS = [str(tmp_path)]
    assert model_roots_check() == []


# --- what is accepted, and resolved on the worker -----------------------------------------------


def test_an_offered_run_is_stored_as_its_reference_and_resolved_to_its_folder_on_the_worker(
    labeled_project, models, settings
):
    own_policy = succeeded_run(labeled_project, family="policy")
    own_reward = succeeded_run(labeled_project, family="reward")

    run = training_run_launch(
        project=labeled_project,
        user=labeled_project.created_by,
        objective="dpo",
        config={"model": f"run:{own_policy.pk}"},
        reward_run_id=own_reward.pk,
    )

    assert run.config["model"] == f"run:{own_policy.pk}"
    assert run.config["judge_reward_model"] == f"run:{own_reward.pk}"
    resolved = trainer_config_resolve(run=run)
    assert resolved["model"] == str(run_model_dir(own_policy))
    assert resolved["judge_reward_model"] == str(run_model_dir(own_reward))
    assert model_reference_path(
        reference="hub:org/cached", project=labeled_project, family="policy"
    ).startswith(str(settings.ARBITER_MODEL_HUB_CACHE))


def test_a_base_model_swapped_for_a_symlink_after_launch_fails_the_run_on_the_worker(
    labeled_project, tiny_bert, settings, tmp_path, django_capture_on_commit_callbacks
):
    root = tmp_path / "operator-models"
    shutil.copytree(tiny_bert, root / "bert")
    settings.ARBITER_MODEL_ROOTS = [str(root)]
    with django_capture_on_commit_callbacks(execute=False):
        run = training_run_launch(
            project=labeled_project,
            user=labeled_project.created_by,
            objective="reward_pairwise",
            config={"model": f"base:{root.name}/bert", "max_steps": 1},
        )
    shutil.rmtree(root / "bert")
    os.symlink(tiny_bert, root / "bert")  # the same model, but now outside the root

    training_run_execute(run_id=run.pk, worker="inline")

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(f"The base model 'base:{root.name}/bert' is not one of the models")
