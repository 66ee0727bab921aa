"""Two rounds of the online loop on tiny models: generate, label as simulated annotators,
train a reward model and a DPO policy, generate again with the new policy."""

import pytest

from apps.corpus.models import Prompt, Response
from apps.feedback.services import judgment_submit
from apps.generation.rounds import (
    round_start,
    round_train_policy,
    round_train_reward_model,
    rounds_table,
)
from apps.generation.services import generation_job_run
from apps.labeling.services import task_claim_next
from apps.projects.models import Membership, Role
from apps.training.models import RunStatus
from apps.training.services import training_run_execute
from tests.factories import ProjectFactory, StaffFactory, add_member
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_bert, build_tiny_gpt2

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def label_preferring_the_shorter(project):
    annotator = add_member(project)
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        texts = [item.response.text for item in lease.task.items.order_by("position")]
        choice = "A" if len(texts[0]) <= len(texts[1]) else "B"
        judgment_submit(
            assignment_id=lease.pk,
            annotator=annotator,
            payload={"choice": choice, "strength": "clearly"},
        )


def execute(run):
    training_run_execute(run_id=run.pk, worker="inline")  # the training task's body, here
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_two_rounds_of_generate_label_train_generate(
    tmp_path, settings, django_capture_on_commit_callbacks
):
    admin = StaffFactory()
    project = ProjectFactory(created_by=admin, kind="pairwise")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    for i in range(30):
        Prompt.objects.create(
            project=project, messages=[{"role": "user", "content": f"tell me about topic {i}"}]
        )
    policy = offer(settings, build_tiny_gpt2(tmp_path / "models" / "gpt2"))
    backbone = offer(settings, build_tiny_bert(tmp_path / "models" / "bert"))

    with django_capture_on_commit_callbacks(execute=False):
        first = round_start(
            project=project, user=admin, base_model=policy, prompts=24, max_tokens=12
        )
    assert generation_job_run(job_id=first.generation_job_id, worker="inline").status == "succeeded"
    label_preferring_the_shorter(project)

    with django_capture_on_commit_callbacks(execute=False):
        reward = round_train_reward_model(
            round_=first,
            user=admin,
            config={"model": backbone, "num_epochs": 3, "batch_size": 4},
        )
    execute(reward)
    first.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        new_policy = round_train_policy(
            round_=first,
            user=admin,
            config={
                "max_steps": 3,
                "batch_size": 2,
                "eval_max_prompts": 2,
                "eval_max_new_tokens": 6,
            },
        )
    new_policy = execute(new_policy)
    assert new_policy.config["model"] == policy  # the base model's reference, not its folder
    assert "win_rate_vs_base" in new_policy.metrics and "kl_to_reference" in new_policy.metrics

    with django_capture_on_commit_callbacks(execute=False):
        second = round_start(project=project, user=admin, prompts=4, max_tokens=8)
    assert second.number == 2 and second.generating_run_id == new_policy.pk
    assert (
        generation_job_run(job_id=second.generation_job_id, worker="inline").status == "succeeded"
    )
    written = Response.objects.filter(metadata__generation_job=second.generation_job_id)
    assert written.count() == 8
    assert {r.metadata.get("training_run") for r in written} == {new_policy.pk}

    rows = rounds_table(project=project)
    assert [row.round.number for row in rows] == [1, 2]
    assert rows[0].reward_accuracy is not None and rows[0].policy_win_rate is not None
    assert rows[1].tasks == 4


@pytest.mark.django_db
def test_the_rounds_page_starts_a_round_and_refuses_without_fresh_prompts(
    client, tmp_path, settings
):
    from django.urls import reverse

    admin = StaffFactory()
    project = ProjectFactory(created_by=admin, kind="pairwise")
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    url = reverse("generation:rounds", args=[project.pk])
    policy = offer(settings, build_tiny_gpt2(tmp_path / "models" / "gpt2"))
    refused = client.post(url, {"base_model": policy, "prompts": 5, "n_per_prompt": 2})
    assert "No fresh prompts left" in refused.content.decode()
    Prompt.objects.create(project=project, messages=[{"role": "user", "content": "hello"}])
    started = client.post(url, {"base_model": policy, "prompts": 5, "n_per_prompt": 2})
    assert started.status_code == 302 and project.rounds.get().number == 1
    assert 'data-round="1"' in client.get(url).content.decode()


@pytest.mark.django_db
def test_a_generation_job_whose_worker_died_is_queued_again(django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.jobs import jobs_reap
    from apps.generation.models import GenerationJob

    admin = StaffFactory()
    project = ProjectFactory(created_by=admin)
    long_ago = timezone.now() - timedelta(hours=1)
    job = GenerationJob.objects.create(
        project=project, created_by=admin, backends=[], status="running", heartbeat_at=long_ago
    )
    alive = GenerationJob.objects.create(
        project=project,
        created_by=admin,
        backends=[],
        status="running",
        heartbeat_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert jobs_reap()["generation.GenerationJob"]["requeued"] == [job.pk]
    assert len(queued) == 1
    job.refresh_from_db()
    alive.refresh_from_db()
    assert (job.status, alive.status) == ("queued", "running")
