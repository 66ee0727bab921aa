import pytest

from apps.autopilot.champions import (
    bootstrap_interval,
    champion_promote,
    champion_rollback,
    policy_gate,
    run_gate,
)
from apps.autopilot.models import Champion, FrozenEvalRow, ModelDecision
from apps.autopilot.selectors import champion_run
from apps.core import events
from apps.core.errors import Conflict
from apps.labeling.models import Task
from apps.training.models import RunStatus, TaskScore, TrainingRun
from apps.training.scoring import tasks_score
from apps.training.services import training_run_execute, training_run_launch
from apps.training.suggestions import task_stored_scores
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels

pytestmark = pytest.mark.django_db


def train_reward(project, tiny_bert_ref, capture) -> TrainingRun:
    with capture(execute=False):
        run = training_run_launch(
            project=project,
            user=project.created_by,
            objective="reward_pairwise",
            config={"model": tiny_bert_ref, **REWARD_CONFIG},
        )
    training_run_execute(run_id=run.pk, worker="inline")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_the_bootstrap_interval_of_paired_differences():
    assert bootstrap_interval([1.0] * 10) == (1.0, 1.0)
    low, high = bootstrap_interval([1.0, 0.0] * 50)
    assert low < 0.5 < high and high - low < 0.25


@pytest.fixture
def heard():
    """Events heard after commit, by name."""
    got: list[events.Event] = []
    handler = got.append
    events.subscribe(handler)
    yield got
    events.unsubscribe(handler)


def test_a_challenger_trained_on_flipped_labels_is_rejected_and_the_champion_keeps_serving(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks, heard
):
    add_labels(pairwise_project, 40)
    champion = train_reward(pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        first = run_gate(run_id=champion.pk)
    assert first.decision == "promoted" and first.reason == "the project's first reward model"
    assert FrozenEvalRow.objects.filter(project=pairwise_project).count() == champion.eval_rows
    assert [e.name for e in heard if e.name == "model.promoted"] == ["model.promoted"]

    # A careless annotator judges many new tasks the wrong way round.
    add_labels(pairwise_project, 120, flip=True, seed=7)
    challenger = train_reward(pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks)
    decision = run_gate(run_id=challenger.pk)

    assert decision.decision == "rejected" and decision.by_gate
    metrics = decision.metrics
    assert metrics["eval_pairs"] == champion.eval_rows  # the frozen pairs, none trained on
    assert metrics["challenger_accuracy"] < metrics["champion_accuracy"]
    low, high = metrics["gain_ci95"]
    assert low <= metrics["gain"] <= high
    assert "frozen held-out pairs" in decision.reason and decision.previous == champion
    assert decision.snapshot_sha256 == challenger.snapshot.sha256
    assert champion_run(project=pairwise_project, family="reward") == champion
    # Suggestions and the queue read the champion's scores, not the newer run's.
    tasks_score(run=challenger)
    tasks_score(run=champion)
    task = Task.objects.filter(project=pairwise_project).first()
    assert task_stored_scores(task) == TaskScore.objects.get(task=task, run=champion).scores
    # Delivered again, the gate decides nothing more.
    assert run_gate(run_id=challenger.pk) is None
    assert ModelDecision.objects.filter(run=challenger).count() == 1


def fake_run(project, **fields) -> TrainingRun:
    values = {
        "objective": "dpo",
        "family": "policy",
        "config": {},
        "status": RunStatus.SUCCEEDED,
        "created_by": project.created_by,
        **fields,
    }
    return TrainingRun.objects.create(project=project, **values)


def test_a_policy_is_promoted_only_by_its_win_rate_over_the_champion_judged_by_the_champion_rm(
    pairwise_project, settings
):
    settings.ARBITER_AUTOPILOT_POLICY_MIN_WIN_RATE = 0.55
    judge = fake_run(pairwise_project, objective="reward_pairwise", family="reward")
    champion = fake_run(pairwise_project)
    good = fake_run(
        pairwise_project,
        config={"model": f"run:{champion.pk}", "judge_reward_model": f"run:{judge.pk}"},
        metrics={"win_rate_vs_base": 0.6},
    )
    verdict = policy_gate(challenger=good, champion=champion, judge=judge)
    assert verdict.promote and "win rate 0.600 over champion run" in verdict.reason
    weak = fake_run(pairwise_project, config=good.config, metrics={"win_rate_vs_base": 0.5})
    assert not policy_gate(challenger=weak, champion=champion, judge=judge).promote
    elsewhere = fake_run(
        pairwise_project,
        config={"model": "base:models/x", "judge_reward_model": f"run:{judge.pk}"},
        metrics={"win_rate_vs_base": 0.9},
    )
    verdict = policy_gate(challenger=elsewhere, champion=champion, judge=judge)
    assert not verdict.promote and "not from the champion policy" in verdict.reason
    other_judge = fake_run(
        pairwise_project,
        config={"model": f"run:{champion.pk}", "judge_reward_model": "run:999999"},
        metrics={"win_rate_vs_base": 0.9},
    )
    assert (
        "not by the champion"
        in policy_gate(challenger=other_judge, champion=champion, judge=judge).reason
    )


def test_admins_promote_and_roll_back_by_hand_and_every_decision_is_recorded(pairwise_project):
    admin = pairwise_project.created_by
    first = fake_run(pairwise_project, objective="reward_pairwise", family="reward")
    second = fake_run(pairwise_project, objective="reward_pairwise", family="reward")
    champion_promote(project=pairwise_project, run_id=first.pk, actor=admin)
    champion_promote(project=pairwise_project, run_id=second.pk, actor=admin, reason="looks better")
    with pytest.raises(Conflict):
        champion_promote(project=pairwise_project, run_id=second.pk, actor=admin)
    back = champion_rollback(project=pairwise_project, family="reward", actor=admin)
    assert back.decision == "rolled_back" and back.run == first and back.previous == second
    assert Champion.objects.get(project=pairwise_project, family="reward").run == first
    decisions = list(ModelDecision.objects.filter(project=pairwise_project).order_by("id"))
    assert [(d.decision, d.run_id, d.actor) for d in decisions] == [
        ("promoted", first.pk, admin),
        ("promoted", second.pk, admin),
        ("rolled_back", first.pk, admin),
    ]
    assert decisions[1].reason == "looks better"
    failed = fake_run(pairwise_project, status=RunStatus.FAILED)
    with pytest.raises(Conflict, match="Only a succeeded run"):
        champion_promote(project=pairwise_project, run_id=failed.pk, actor=admin)


def test_the_loss_of_held_out_pairs_is_the_bradley_terry_loss_worked_by_hand():
    import math

    from apps.autopilot.champions import bradley_terry_loss, wins

    assert wins([2.0, 0.0, -1.0]) == [1.0, 0.5, 0.0]
    expected = (math.log1p(math.exp(-2.0)) + math.log(2) + math.log1p(math.exp(1.0))) / 3
    assert bradley_terry_loss([2.0, 0.0, -1.0]) == pytest.approx(expected)
