"""Rows written before models were chosen by reference held server paths: the upgrade command
turns each path naming a model of the row's project into its reference and leaves the rest, which
stay refused."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.generation.models import GenerationJob, Round
from apps.projects.models import Membership, Role
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir
from tests.factories import ProjectFactory, StaffFactory
from tests.models_offered import offer, unloaded_model

pytestmark = pytest.mark.django_db


def succeeded_run(project, *, family: str) -> TrainingRun:
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


def upgrade() -> str:
    out = StringIO()
    call_command("models_to_references", stdout=out)
    return out.getvalue()


def test_stored_paths_become_references_and_other_projects_paths_stay_refused(
    project, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "storage"
    settings.ARBITER_MODEL_HUB_CACHE = "off"
    base_folder = unloaded_model(tmp_path / "operator-models" / "tiny")
    base = offer(settings, base_folder)
    policy, reward = (
        succeeded_run(project, family="policy"),
        succeeded_run(project, family="reward"),
    )
    stranger = StaffFactory()
    other = ProjectFactory(created_by=stranger)
    Membership.objects.create(project=other, user=stranger, role=Role.ADMIN)
    foreign = succeeded_run(other, family="policy")
    queued = TrainingRun.objects.create(
        project=project,
        objective="dpo",
        family="policy",
        created_by=project.created_by,
        config={
            "model": str(run_model_dir(policy)),
            "judge_reward_model": str(run_model_dir(reward)),
        },
    )
    probing = TrainingRun.objects.create(
        project=project,
        objective="dpo",
        family="policy",
        created_by=project.created_by,
        config={"model": str(run_model_dir(foreign))},
    )
    job = GenerationJob.objects.create(
        project=project,
        created_by=project.created_by,
        backends=[
            {"name": "b", "config": {"type": "transformers", "model": str(base_folder)}},
            {
                "name": "p",
                "config": {"type": "transformers", "model": str(run_model_dir(policy))},
                "training_run": policy.pk,
            },
        ],
    )
    round_ = Round.objects.create(
        project=project,
        number=1,
        base_model=str(base_folder),
        generation_job=job,
        created_by=project.created_by,
    )
    chat = ProjectFactory(
        kind="chat",
        created_by=project.created_by,
        generation_backend={"type": "transformers", "model": str(tmp_path / "elsewhere")},
    )

    report = upgrade()

    queued.refresh_from_db(), probing.refresh_from_db(), job.refresh_from_db()
    round_.refresh_from_db(), chat.refresh_from_db()
    assert queued.config == {"model": f"run:{policy.pk}", "judge_reward_model": f"run:{reward.pk}"}
    assert [entry["config"]["model"] for entry in job.backends] == [base, f"run:{policy.pk}"]
    assert round_.base_model == base
    # Another project's run and a folder outside the roots stay as they were, and are listed.
    assert probing.config == {"model": str(run_model_dir(foreign))}
    assert chat.generation_backend["model"] == str(tmp_path / "elsewhere")
    assert f"run {probing.pk} model" in report and f"chat project {chat.pk}" in report
    assert report.strip().endswith("converted=5 left=2")
    assert upgrade().strip().endswith("converted=0 left=2")  # idempotent
