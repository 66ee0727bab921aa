"""The chain, stage by stage, and a crash between a gate's measurement and its decision."""

import shutil

import pytest

from apps.autopilot.chains import autopilot_configure
from apps.autopilot.champions import run_gate
from apps.autopilot.models import ModelDecision, ProjectAutopilot
from apps.autopilot.selectors import champion_run
from apps.core.jobs import SimulatedCrash, crash_at
from apps.corpus.models import Prompt
from apps.generation.models import Round
from apps.training.models import RunStatus, TrainingRun
from apps.training.services import run_model_dir, training_run_execute, training_run_launch
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels
from tests.models_offered import offer
from tests.trainer.tiny import build_tiny_gpt2

pytestmark = pytest.mark.django_db

POLICY_CONFIG = {"max_steps": 2, "batch_size": 2, "eval_max_prompts": 2, "eval_max_new_tokens": 4}


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    return build_tiny_gpt2(tmp_path_factory.mktemp("policies") / "tiny-gpt2")


def test_a_promoted_reward_model_trains_a_policy_judged_by_it_once_even_after_a_crash(
    pairwise_project, tiny_bert_ref, tiny_gpt2, settings, django_capture_on_commit_callbacks
):
    base = offer(settings, tiny_gpt2)
    autopilot_configure(
        project=pairwise_project,
        train_policy=True,
        base_model=base,
        policy_objective="dpo",
        policy_config=POLICY_CONFIG,
    )
    add_labels(pairwise_project, 30)
    with django_capture_on_commit_callbacks(execute=False):
        reward = training_run_launch(
            project=pairwise_project,
            user=pairwise_project.created_by,
            objective="reward_pairwise",
            config={"model": tiny_bert_ref, **REWARD_CONFIG},
        )
    training_run_execute(run_id=reward.pk, worker="inline")

    # The worker dies after measuring, before deciding: nothing is decided, nothing launched.
    with pytest.raises(SimulatedCrash), crash_at("autopilot.gated"):
        run_gate(run_id=reward.pk)
    assert not ModelDecision.objects.exists() and not TrainingRun.objects.filter(family="policy")

    # The message comes again: the chain resumes from the gate, and goes on once.
    with django_capture_on_commit_callbacks(execute=False):
        decision = run_gate(run_id=reward.pk)
        assert run_gate(run_id=reward.pk) is None
    assert decision.decision == "promoted"
    policy = TrainingRun.objects.get(family="policy")
    assert policy.objective == "dpo" and policy.status == RunStatus.QUEUED
    assert policy.config["model"] == base
    assert policy.config["judge_reward_model"] == f"run:{reward.pk}"


def test_a_promoted_policy_starts_the_next_round_with_it(
    pairwise_project, settings, tmp_path, tiny_gpt2, django_capture_on_commit_callbacks
):
    base = offer(settings, tiny_gpt2)
    autopilot_configure(project=pairwise_project, start_round=True, round_prompts=3)
    for i in range(5):
        Prompt.objects.create(
            project=pairwise_project, messages=[{"role": "user", "content": f"q{i}"}]
        )
    judge = TrainingRun.objects.create(
        project=pairwise_project, objective="reward_pairwise", family="reward", config={},
        status=RunStatus.SUCCEEDED, created_by=pairwise_project.created_by,
    )  # fmt: skip
    from apps.autopilot.models import Champion

    Champion.objects.create(project=pairwise_project, family="reward", run=judge)
    policy = TrainingRun.objects.create(
        project=pairwise_project, objective="dpo", family="policy",
        config={"model": base, "judge_reward_model": f"run:{judge.pk}"},
        metrics={"win_rate_vs_base": 0.75}, status=RunStatus.SUCCEEDED,
        created_by=pairwise_project.created_by, output_dir="runs/x",
    )  # fmt: skip
    settings.MEDIA_ROOT = str(tmp_path)
    shutil.copytree(tiny_gpt2, run_model_dir(policy))  # the policy's trained model, on storage
    with django_capture_on_commit_callbacks(execute=False):
        decision = run_gate(run_id=policy.pk)
    assert decision.decision == "promoted", decision.reason
    assert champion_run(project=pairwise_project, family="policy") == policy
    autopilot = ProjectAutopilot.objects.get(project=pairwise_project)
    assert autopilot.last_error == ""
    next_round = Round.objects.get(project=pairwise_project)
    assert next_round.generating_run_id == policy.pk and next_round.number == 1


def test_a_chat_answered_by_a_trained_policy_follows_the_champion_policy(db):
    from apps.autopilot.champions import champion_promote, champion_rollback
    from apps.projects.models import Membership, Role
    from tests.factories import ProjectFactory, StaffFactory

    admin = StaffFactory()
    chat = ProjectFactory(kind="chat", created_by=admin)
    Membership.objects.create(project=chat, user=admin, role=Role.ADMIN)
    old, new = (
        TrainingRun.objects.create(
            project=chat, objective="kto", family="policy", config={},
            status=RunStatus.SUCCEEDED, created_by=admin,
        )
        for _ in range(2)
    )  # fmt: skip
    chat.generation_backend = {"type": "transformers", "model": f"run:{old.pk}", "max_tokens": 64}
    chat.save()
    champion_promote(project=chat, run_id=old.pk, actor=admin)
    champion_promote(project=chat, run_id=new.pk, actor=admin)
    chat.refresh_from_db()
    assert chat.generation_backend == {
        "type": "transformers",
        "model": f"run:{new.pk}",
        "max_tokens": 64,
    }
    champion_rollback(project=chat, family="policy", actor=admin)
    chat.refresh_from_db()
    assert chat.generation_backend["model"] == f"run:{old.pk}"
    # A model the admin chose that is no trained run of the project stays.
    chat.generation_backend = {"type": "transformers", "model": "base:models/tiny"}
    chat.save()
    champion_promote(project=chat, run_id=new.pk, actor=admin)
    chat.refresh_from_db()
    assert chat.generation_backend["model"] == "base:models/tiny"
