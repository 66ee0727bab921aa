from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.autopilot.models import RuleFiring, TrainingRule
from apps.autopilot.rules import rule_evaluate, rule_fire, rule_run_finished, rules_check
from apps.autopilot.services import training_rule_create, training_rule_update
from apps.core.errors import ApplicationError
from apps.core.jobs import job_claim, job_fail_claim
from apps.feedback.models import Judgment
from apps.training.models import TrainingRun
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels

pytestmark = pytest.mark.django_db


def make_rule(project, tiny_bert_ref, **values):
    values = {
        "name": "retrain",
        "objective": "reward_pairwise",
        "config": {"model": tiny_bert_ref, **REWARD_CONFIG},
        "every_labels": 20,
        **values,
    }
    return training_rule_create(project=project, user=project.created_by, **values)


def why(rule) -> str:
    rule.refresh_from_db()
    return rule_evaluate(rule=rule).why


def test_a_rule_counts_only_labels_that_arrive_after_it(pairwise_project, tiny_bert_ref):
    add_labels(pairwise_project, 30)
    rule = make_rule(pairwise_project, tiny_bert_ref)
    assert why(rule) == "0 / 20 new labels"
    add_labels(pairwise_project, 12, seed=1)
    assert why(rule) == "12 / 20 new labels"


def test_gold_and_excluded_labels_are_not_counted(pairwise_project, tiny_bert_ref):
    rule = make_rule(pairwise_project, tiny_bert_ref)
    add_labels(pairwise_project, 5, is_gold=True, gold_payload={"choice": "A"})
    add_labels(pairwise_project, 6, seed=2)
    Judgment.objects.filter(pk=Judgment.objects.filter(task__is_gold=False).first().pk).update(
        excluded_at=timezone.now()
    )
    assert why(rule) == "5 / 20 new labels"


def test_the_rule_fires_once_at_its_threshold_and_counts_again_from_there(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    add_labels(pairwise_project, 30)
    rule = make_rule(pairwise_project, tiny_bert_ref)
    add_labels(pairwise_project, 19, seed=1)
    assert rules_check() == []
    add_labels(pairwise_project, 1, seed=2)
    with django_capture_on_commit_callbacks(execute=False):
        launched = rules_check()
        again = rules_check()  # a second checker at once: the run is active, nothing more
    assert len(launched) == 1 and again == []
    run = TrainingRun.objects.get(pk=launched[0])
    assert run.objective == "reward_pairwise" and run.train_rows + run.eval_rows == 50
    firing = RuleFiring.objects.get(rule=rule)
    assert (firing.number, firing.labels, firing.run_id) == (1, 20, run.pk)
    assert why(rule) == "0 / 20 new labels"
    add_labels(pairwise_project, 20, seed=3)
    assert why(rule) == f"run {run.pk} is still active"
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    assert why(rule) == "20 new labels: fires at the next check"


def test_a_stale_checker_loses_the_compare_and_set(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    rule = make_rule(pairwise_project, tiny_bert_ref)
    add_labels(pairwise_project, 40)
    stale = TrainingRule.objects.get(pk=rule.pk)  # read before the other checker fired
    with django_capture_on_commit_callbacks(execute=False):
        assert rule_fire(rule_id=rule.pk) is not None
    TrainingRun.objects.update(status="succeeded", finished_at=timezone.now())
    moved = TrainingRule.objects.filter(
        pk=stale.pk, label_watermark=stale.label_watermark, launches=stale.launches
    ).update(launches=99)
    assert moved == 0 and TrainingRun.objects.count() == 1


def test_cooldown_and_runs_per_day_hold_the_rule(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    rule = make_rule(pairwise_project, tiny_bert_ref, cooldown_minutes=30, max_runs_per_day=1)
    add_labels(pairwise_project, 40)
    with django_capture_on_commit_callbacks(execute=False):
        assert rule_fire(rule_id=rule.pk) is not None
    TrainingRun.objects.update(status="succeeded", finished_at=timezone.now())
    add_labels(pairwise_project, 20, seed=3)
    assert why(rule) == "cooling down for 30 min"
    TrainingRule.objects.filter(pk=rule.pk).update(
        last_launched_at=timezone.now() - timedelta(minutes=31)
    )
    assert why(rule) == "1 / 1 runs in the last 24 h"
    RuleFiring.objects.update(created_at=timezone.now() - timedelta(days=2))
    assert why(rule) == "20 new labels: fires at the next check"


def test_low_agreement_holds_the_rule_with_the_figure(pairwise_project, tiny_bert_ref):
    pairwise_project.overlap = 2
    pairwise_project.save()
    rule = make_rule(pairwise_project, tiny_bert_ref, every_labels=10, min_alpha=0.4)
    add_labels(pairwise_project, 10, seed=4)
    add_labels(pairwise_project, 0, flip=True)  # a second annotator judges every task the other way
    line = why(rule)
    assert line.startswith("α -") and line.endswith("< 0.4")


def test_gold_accuracy_below_the_minimum_holds_the_rule(pairwise_project, tiny_bert_ref):
    rule = make_rule(pairwise_project, tiny_bert_ref, every_labels=5, min_gold_accuracy=0.8)
    add_labels(pairwise_project, 6, seed=5)
    # Gold tasks whose known answer the annotator misses every time.
    annotator = add_labels(pairwise_project, 0)
    for seed in range(4):
        add_labels(pairwise_project, 1, annotator=annotator, flip=True, seed=10 + seed,
                   is_gold=True, gold_payload={"choice": "Z"})  # fmt: skip
    assert why(rule) == "gold accuracy 0.00 < 0.8"


def test_a_rule_is_validated_exactly_as_a_launch_is(pairwise_project, tiny_bert_ref):
    with pytest.raises(ApplicationError, match="Invalid training config"):
        make_rule(
            pairwise_project, tiny_bert_ref, config={"model": tiny_bert_ref, "lerning_rate": 1}
        )
    with pytest.raises(ApplicationError, match="listwise data"):
        make_rule(pairwise_project, tiny_bert_ref, objective="reward_listwise")
    with pytest.raises(ApplicationError, match="is not one of"):
        make_rule(pairwise_project, tiny_bert_ref, config={"model": "hub:no-such/model"})
    with pytest.raises(ApplicationError, match="trigger"):
        make_rule(pairwise_project, tiny_bert_ref, every_labels=None)
    assert not TrainingRule.objects.exists()


def test_a_schedule_is_kept_in_django_celery_beat(pairwise_project, tiny_bert_ref):
    rule = make_rule(pairwise_project, tiny_bert_ref, every_labels=None, cron="*/30 * * * *")
    task = PeriodicTask.objects.get(pk=rule.schedule_id)
    assert task.task == "autopilot.fire_scheduled" and task.args == f"[{rule.pk}]"
    assert task.crontab.minute == "*/30"
    with pytest.raises(ApplicationError, match="five fields"):
        training_rule_update(rule=rule, cron="every day")
    training_rule_update(rule=rule, cron="", every_labels=10)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_a_scheduled_firing_needs_new_labels(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    add_labels(pairwise_project, 30)
    rule = make_rule(pairwise_project, tiny_bert_ref, every_labels=None, cron="0 3 * * *")
    assert rule_fire(rule_id=rule.pk, trigger="schedule") is None
    add_labels(pairwise_project, 3, seed=6)
    with django_capture_on_commit_callbacks(execute=False):
        firing = rule_fire(rule_id=rule.pk, trigger="schedule")
    assert firing.trigger == "schedule" and firing.labels == 3


def test_three_failures_in_a_row_switch_the_rule_off_with_the_reason(
    pairwise_project, tiny_bert_ref, django_capture_on_commit_callbacks
):
    rule = make_rule(pairwise_project, tiny_bert_ref, every_labels=5)
    for attempt in range(3):
        add_labels(pairwise_project, 40 if attempt == 0 else 5, seed=20 + attempt)
        with django_capture_on_commit_callbacks(execute=False):
            firing = rule_fire(rule_id=rule.pk)
        claimed = job_claim(TrainingRun, firing.run_id, worker="test")
        job_fail_claim(claimed, "out of memory")
        rule_run_finished(run=TrainingRun.objects.get(pk=firing.run_id))
    rule.refresh_from_db()
    assert not rule.enabled and rule.consecutive_failures == 3
    assert (
        "failed 3 times in a row" in rule.disabled_reason
        and "out of memory" in rule.disabled_reason
    )
    assert why(rule).startswith("switched off: failed 3 times")
    training_rule_update(rule=rule, enabled=True)
    rule.refresh_from_db()
    assert rule.enabled and rule.consecutive_failures == 0 and rule.disabled_reason == ""


def test_a_launch_that_is_refused_counts_as_a_failure_and_launches_nothing(
    pairwise_project, tiny_bert_ref
):
    rule = make_rule(pairwise_project, tiny_bert_ref, every_labels=3)
    add_labels(pairwise_project, 3)  # too few rows for a run
    assert rule_fire(rule_id=rule.pk) is None
    rule.refresh_from_db()
    assert "Too few labels" in rule.last_error and rule.consecutive_failures == 1
    assert rule.launches == 0 and not TrainingRun.objects.exists()
