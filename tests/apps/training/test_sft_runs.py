"""An sft run trains on what a project's annotators wrote, and a DPO run of the same project can
start from the policy it saved (`run:<id>`): demonstrations and rewrites warm-start DPO."""

import random

import pytest

from apps.core.errors import ApplicationError
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import FeedbackKind, Membership, Role
from apps.training.models import RunStatus
from apps.training.services import (
    objectives_for_project,
    training_config_validate,
    training_run_execute,
    training_run_launch,
)
from tests.apps.training.conftest import learnable_pair
from tests.factories import ProjectFactory, StaffFactory, add_member, make_task
from tests.models_offered import offer
from tests.trainer.tiny import GOOD, build_tiny_gpt2

pytestmark = pytest.mark.django_db

FAST = {"batch_size": 4, "max_steps": 2, "eval_max_prompts": 2, "eval_max_new_tokens": 4}


@pytest.fixture
def tiny_policy_ref(settings, tmp_path):
    folder = tmp_path / "policies" / "tiny-gpt2"
    folder.mkdir(parents=True)
    return offer(settings, build_tiny_gpt2(folder))


@pytest.fixture
def rewriting_project(db):
    """A pairwise project in rewrite mode: every better answer chosen and then improved."""
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin, allow_rewrite=True)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    rng = random.Random(0)
    annotator = add_member(project)
    for _ in range(30):
        _, good, bad = learnable_pair(rng)
        make_task(project, texts=[good, bad] if rng.random() < 0.5 else [bad, good])
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        texts = [item.response.text for item in lease.task.items.order_by("position")]
        chosen = 0 if any(word in texts[0].split() for word in GOOD) else 1
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": "AB"[chosen], "strength": "clearly"},
            written_response=f"{texts[chosen]} and {rng.choice(GOOD)} too",
            edited_position=chosen,
        )
    return project


def _launch_and_run(project, objective, config):
    run = training_run_launch(
        project=project, user=project.created_by, objective=objective, config=config
    )
    training_run_execute(run_id=run.pk, worker="inline")
    run.refresh_from_db()
    return run


def test_sft_is_offered_to_demonstration_and_judging_projects_but_dpo_needs_pairs(db):
    demonstrations = ProjectFactory(kind=FeedbackKind.DEMONSTRATION)
    assert "sft" in objectives_for_project(project=demonstrations)
    assert "dpo" not in objectives_for_project(project=demonstrations)
    assert {"sft", "dpo"} <= set(objectives_for_project(project=ProjectFactory()))


def test_an_sft_run_on_rewrites_then_dpo_from_its_policy(
    rewriting_project, tiny_policy_ref, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        sft = _launch_and_run(rewriting_project, "sft", {**FAST, "model": tiny_policy_ref})
    assert sft.status == RunStatus.SUCCEEDED, sft.error
    assert sft.snapshot.kind == "sft" and sft.train_rows + sft.eval_rows == 30
    assert sft.family == "policy"

    with django_capture_on_commit_callbacks(execute=False):
        dpo = _launch_and_run(
            rewriting_project,
            "dpo",
            {**FAST, "model": f"run:{sft.pk}", "learning_rate": 1e-3},
        )
    assert dpo.status == RunStatus.SUCCEEDED, dpo.error
    assert dpo.config["model"] == f"run:{sft.pk}"
    assert dpo.snapshot.kind == "pairs"


@pytest.fixture
def demonstration_project(rewriting_project):
    """A demonstration project of the same admin: twenty prompts, each answered from scratch."""
    admin = rewriting_project.created_by
    project = ProjectFactory(created_by=admin, kind=FeedbackKind.DEMONSTRATION)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    annotator = add_member(project)
    rng = random.Random(1)
    for _ in range(20):
        make_task(project, n_responses=0)
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        _, good, _ = learnable_pair(rng)
        judgment_submit(
            assignment_id=lease.pk, annotator=annotator, payload={}, written_response=good
        )
    return project


def test_demonstrations_warm_start_dpo_in_another_project_of_the_same_admin(
    rewriting_project, demonstration_project, tiny_policy_ref, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        sft = _launch_and_run(demonstration_project, "sft", {**FAST, "model": tiny_policy_ref})
    assert sft.status == RunStatus.SUCCEEDED, sft.error
    assert sft.train_rows + sft.eval_rows == 20

    with django_capture_on_commit_callbacks(execute=False):
        dpo = _launch_and_run(
            rewriting_project, "dpo", {**FAST, "model": f"run:{sft.pk}", "learning_rate": 1e-3}
        )
    assert dpo.status == RunStatus.SUCCEEDED, dpo.error


def test_a_policy_run_of_a_project_the_launcher_does_not_administer_is_refused(
    rewriting_project, demonstration_project, tiny_policy_ref, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        sft = _launch_and_run(demonstration_project, "sft", {**FAST, "model": tiny_policy_ref})
    outsider = StaffFactory()
    Membership.objects.create(project=rewriting_project, user=outsider, role=Role.ADMIN)

    with pytest.raises(ApplicationError, match="not a succeeded policy run of a project you"):
        training_run_launch(
            project=rewriting_project,
            user=outsider,
            objective="dpo",
            config={**FAST, "model": f"run:{sft.pk}"},
        )
    # Without a launching user (a rule of the project itself), only its own runs count.
    with pytest.raises(ApplicationError, match="not a succeeded policy run of this project"):
        training_config_validate(
            project=rewriting_project, objective="dpo", config={"model": f"run:{sft.pk}"}
        )


def test_the_launch_form_offers_the_policy_runs_of_the_admins_other_projects(
    client,
    rewriting_project,
    demonstration_project,
    tiny_policy_ref,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False):
        sft = _launch_and_run(demonstration_project, "sft", {**FAST, "model": tiny_policy_ref})
    client.force_login(rewriting_project.created_by)

    page = client.get(f"/projects/{rewriting_project.pk}/runs/").content.decode()

    assert "Policy runs of your other projects" in page
    assert f'value="run:{sft.pk}"' in page
    assert f"({sft.objective}) · {demonstration_project.name}" in page
