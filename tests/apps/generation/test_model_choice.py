"""Generation jobs and rounds sample models that are chosen, never typed as paths: the service and
the forms refuse anything else, and the worker checks the choice again before it loads it."""

import os
import shutil

import pytest

from apps.core.errors import ApplicationError
from apps.corpus.models import Response
from apps.generation import backends
from apps.generation.models import GenerationJob, Round
from apps.generation.rounds import round_start
from apps.generation.services import generation_job_create, generation_job_run
from apps.projects.models import Membership, Role
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir
from tests.factories import ProjectFactory, PromptFactory, StaffFactory
from tests.models_offered import as_cached_hub_model, hostile_models, offer, unloaded_model
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = pytest.mark.django_db

ATTACKS = [
    "another project's run folder",
    "another project's run",
    "a model folder outside the roots",
    "a path that does not exist",
    "dot-dot out of a root",
    "dot-dot through a model",
    "a symlink out of a root",
    "a folder without a model",
    "a model not in the cache",
]


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    yield build_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")
    backends.clear_model_cache()


@pytest.fixture
def models(settings, tmp_path):
    """An operator's root, and a succeeded policy run of a project this admin does not run."""
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.ARBITER_MODEL_HUB_CACHE = str(tmp_path / "hub")
    stranger = StaffFactory()
    other = ProjectFactory(created_by=stranger)
    Membership.objects.create(project=other, user=stranger, role=Role.ADMIN)
    other_run = TrainingRun.objects.create(
        project=other,
        objective="dpo",
        family="policy",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=stranger,
        output_dir="runs/other",
    )
    unloaded_model(run_model_dir(other_run))
    return hostile_models(
        settings, tmp_path, other_run_dir=run_model_dir(other_run), other_run_id=other_run.pk
    )


def nothing_stored() -> bool:
    return not GenerationJob.objects.exists() and not Round.objects.exists()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_job_with_a_local_model_that_is_not_offered_is_refused(project, models, attack):
    PromptFactory(project=project)

    with pytest.raises(
        ApplicationError, match=r"is not one of the models|is not a succeeded policy run"
    ):
        generation_job_create(
            project=project,
            user=project.created_by,
            backends=[{"type": "transformers", "model": models.attacks[attack]}],
            n_per_prompt=2,
        )

    assert nothing_stored()


def test_a_policy_run_of_a_project_the_admin_does_not_run_is_refused_by_id(project, models):
    PromptFactory(project=project)
    other_run_id = int(models.attacks["another project's run"].removeprefix("run:"))

    with pytest.raises(ApplicationError, match="not a succeeded policy run of a project you"):
        generation_job_create(
            project=project, user=project.created_by, backends=[{"training_run": other_run_id}]
        )
    assert nothing_stored()


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_job_form_offers_choices_and_refuses_anything_else(
    admin_client, project, models, attack
):
    PromptFactory(project=project)
    url = f"/projects/{project.pk}/generation/new/"

    page = admin_client.get(url).content.decode()
    answer = admin_client.post(
        url,
        {
            "local_models": [models.attacks[attack]],
            "n_per_prompt": 2,
            "temperature": 0.7,
            "top_p": 1,
            "max_tokens": 16,
            "batch_size": 8,
            "selection": "all",
            "pairing": "all",
        },
    )

    assert f'value="{models.base}"' in page and str(models.root) not in page
    assert answer.status_code == 422  # refused: the form again, with its reasons
    assert "is not one of the available choices" in answer.content.decode()
    assert nothing_stored()


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_round_from_a_base_model_that_is_not_offered_is_refused(client, project, models, attack):
    PromptFactory(project=project)
    client.force_login(project.created_by)

    with pytest.raises(ApplicationError):
        round_start(project=project, user=project.created_by, base_model=models.attacks[attack])
    answer = client.post(
        f"/projects/{project.pk}/rounds/",
        {"base_model": models.attacks[attack], "prompts": 5, "n_per_prompt": 2},
    )

    assert "is not one of the available choices" in answer.content.decode()
    assert nothing_stored()


def test_a_cached_hub_model_is_offered_and_a_job_samples_it(
    project, models, tiny_gpt2, settings, tmp_path
):
    as_cached_hub_model(tiny_gpt2, tmp_path / "hub", "tiny-org/tiny-gpt2")
    PromptFactory(project=project)

    job = generation_job_create(
        project=project,
        user=project.created_by,
        backends=[{"type": "transformers", "model": "hub:tiny-org/tiny-gpt2", "device": "cpu"}],
        n_per_prompt=2,
        temperature=1.0,
        max_tokens=6,
    )
    job = generation_job_run(job_id=job.pk, worker="inline")

    assert job.status == "succeeded", job.error
    assert job.backends[0]["config"]["model"] == "hub:tiny-org/tiny-gpt2"
    written = Response.objects.filter(metadata__generation_job=job.pk)
    assert written.count() == 2
    assert {r.metadata["model"] for r in written} == {"hub:tiny-org/tiny-gpt2"}


def test_a_base_model_swapped_for_a_symlink_after_the_job_was_queued_fails_the_job(
    project, tiny_gpt2, settings, tmp_path
):
    root = tmp_path / "operator-models"
    shutil.copytree(tiny_gpt2, root / "gpt2")
    reference = offer(settings, root / "gpt2")
    PromptFactory(project=project)
    job = generation_job_create(
        project=project,
        user=project.created_by,
        backends=[{"type": "transformers", "model": reference, "device": "cpu"}],
        n_per_prompt=2,
        temperature=1.0,
        max_tokens=6,
    )
    shutil.rmtree(root / "gpt2")
    os.symlink(tiny_gpt2, root / "gpt2")  # the same model, but now outside the root

    job = generation_job_run(job_id=job.pk, worker="inline")

    assert job.status == "failed"
    assert f"'{reference}' is not one of the models" in job.error
    assert not Response.objects.exists()
