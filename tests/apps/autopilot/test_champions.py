import random

import pytest

from apps.autopilot.champions import (
    PairedComparison,
    bootstrap_interval,
    champion_promote,
    champion_rollback,
    gold_eval_rows,
    paired_verdict,
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
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels, learnable_pair
from tests.factories import make_task

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


def test_a_challenger_that_wins_a_few_items_by_luck_is_not_promoted():
    # 60 items; the challenger is right on 3 the champion gets wrong, and wrong on none: a gain of
    # 0.05 that the paired bootstrap cannot tell from chance.
    champion = [1.0] * 45 + [0.0] * 15
    challenger = [1.0] * 48 + [0.0] * 12
    promote, reason, metrics = paired_verdict(PairedComparison(challenger, champion), margin=0.0)
    assert not promote and metrics["gain"] == pytest.approx(0.05)
    assert metrics["gain_ci95"][0] <= 0 and "lower end is not above +0.000" in reason
    assert (metrics["only_challenger_right"], metrics["only_champion_right"]) == (3, 0)


def test_a_challenger_better_beyond_chance_is_promoted_and_the_margin_is_respected():
    # Right on 12 of the champion's 15 misses, wrong on 1 of its hits.
    champion = [1.0] * 45 + [0.0] * 15
    challenger = [1.0] * 44 + [0.0] + [1.0] * 12 + [0.0] * 3
    comparison = PairedComparison(challenger, champion)
    promote, reason, metrics = paired_verdict(comparison, margin=0.0)
    low, high = metrics["gain_ci95"]
    assert promote and 0 < low < metrics["gain"] < high and "interval is above" in reason
    assert not paired_verdict(comparison, margin=low + 0.01)[0]


def test_a_challenger_level_with_the_champion_is_not_promoted():
    same = [1.0, 0.0, 0.5] * 20
    promote, _, metrics = paired_verdict(PairedComparison(same, list(same)), margin=0.0)
    assert not promote and metrics["gain_ci95"] == [0.0, 0.0]


def gold_pairs(count: int, seed: int = 11):
    """Learnable pairs with the better response on a random side, and that side's letter."""
    rng = random.Random(seed)
    for _ in range(count):
        _, good, bad = learnable_pair(rng)
        yield ([good, bad], "A") if rng.random() < 0.5 else ([bad, good], "B")


def test_gold_tasks_are_held_out_pairs_with_their_known_answer(pairwise_project):
    made = {}
    for texts, choice in gold_pairs(3):
        task = make_task(
            pairwise_project, texts=texts, is_gold=True, gold_payload={"choice": choice}
        )
        made[task.prompt.messages[0]["content"]] = texts if choice == "A" else texts[::-1]
    make_task(pairwise_project, is_gold=True, gold_payload={"choice": "tie"})  # no pair
    make_task(pairwise_project)  # not gold
    rows = gold_eval_rows(project_id=pairwise_project.pk)
    assert {row["prompt"]: [row["chosen"], row["rejected"]] for row in rows} == made


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

    # A careless annotator judges many new tasks the wrong way round; the project also has gold
    # tasks, whose known answers no run trains on.
    add_labels(pairwise_project, 120, flip=True, seed=7)
    gold = [
        make_task(pairwise_project, texts=texts, is_gold=True, gold_payload={"choice": choice})
        for texts, choice in gold_pairs(8)
    ]
    challenger = train_reward(pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks)
    decision = run_gate(run_id=challenger.pk)

    assert decision.decision == "rejected" and decision.by_gate
    metrics = decision.metrics
    # Both models on the same items: every frozen pair (none trained on by either; the
    # challenger's own held-out pairs, labeled by the careless annotator, are not among them) and
    # every gold task.
    assert (metrics["frozen_pairs"], metrics["gold_pairs"]) == (champion.eval_rows, len(gold))
    assert metrics["eval_pairs"] == champion.eval_rows + len(gold)
    # Now they are frozen, for the next challenger.
    frozen = FrozenEvalRow.objects.filter(project=pairwise_project).count()
    assert frozen == challenger.eval_rows > champion.eval_rows
    assert metrics["challenger_accuracy"] < metrics["champion_accuracy"]
    low, high = metrics["gain_ci95"]
    assert low <= metrics["gain"] <= high and low <= 0
    assert "frozen held-out pairs and 8 gold tasks" in decision.reason
    assert "95% paired-bootstrap CI" in decision.reason and decision.previous == champion
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


def test_every_held_out_judgment_is_frozen_once_with_its_first_label(pairwise_project):
    from apps.autopilot.champions import frozen_eval_rows_extend

    pair = {"prompt": "q", "chosen": "good", "rejected": "bad", "prompt_id": 1}
    rows = [
        {**pair, "judgment_id": 1},
        {**pair, "judgment_id": 2, "chosen": "bad", "rejected": "good"},
    ]
    assert frozen_eval_rows_extend(project_id=pairwise_project.pk, rows=rows) == 2
    # Seen again, relabeled: nothing changes; a new judgment on the same pair joins.
    again = [{**rows[0], "chosen": "bad", "rejected": "good"}, {**pair, "judgment_id": 3}]
    assert frozen_eval_rows_extend(project_id=pairwise_project.pk, rows=again) == 1
    frozen = list(FrozenEvalRow.objects.filter(project=pairwise_project).order_by("id"))
    assert [(r.row["judgment_id"], r.row["chosen"]) for r in frozen] == [
        (1, "good"), (2, "bad"), (3, "good")
    ]  # fmt: skip
    # An aggregated snapshot's row (no judgment) is frozen once per pair, whichever side won.
    aggregated = [pair, {**pair, "chosen": "bad", "rejected": "good"}, {**pair, "prompt": "q2"}]
    assert frozen_eval_rows_extend(project_id=pairwise_project.pk, rows=aggregated) == 2
