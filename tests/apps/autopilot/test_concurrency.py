"""The trigger path under load, on PostgreSQL with real threads and connections: however many
annotators submit and however many checkers look at once, one crossing launches one run."""

import random
import threading

import pytest
from django.db import connection, transaction

from apps.autopilot.models import RuleFiring
from apps.autopilot.rules import rule_fire, rules_check
from apps.autopilot.services import training_rule_create
from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.training.models import TrainingRun
from tests.apps.autopilot.conftest import REWARD_CONFIG, add_labels, learnable_pair
from tests.factories import UserFactory, add_member, make_task

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ANNOTATORS = 16
THRESHOLD = 40


def _threads(targets) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def runner(target):
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors


def _rule(project, tiny_bert_ref):
    return training_rule_create(
        project=project,
        user=project.created_by,
        name="every 40",
        objective="reward_pairwise",
        config={"model": tiny_bert_ref, **REWARD_CONFIG},
        every_labels=THRESHOLD,
    )


def test_sixteen_annotators_across_the_threshold_and_two_checkers_launch_exactly_one_run(
    pairwise_project, tiny_bert_ref
):
    add_labels(pairwise_project, 20)  # enough rows for a run once the threshold is crossed
    rule = _rule(pairwise_project, tiny_bert_ref)
    rng = random.Random(1)
    for _ in range(ANNOTATORS * 5):
        _, good, bad = learnable_pair(rng)
        make_task(pairwise_project, texts=[good, bad])
    annotators = [add_member(pairwise_project, UserFactory()) for _ in range(ANNOTATORS)]
    done = threading.Event()
    submitted = []

    def annotate(annotator):
        def work():
            for _ in range(5):
                lease = task_claim_next(project=pairwise_project, annotator=annotator)
                if lease is None:
                    return
                judgment_submit(
                    assignment_id=lease.pk,
                    annotator=annotator,
                    payload={"choice": "A", "strength": "clearly"},
                )
                submitted.append(1)

        return work

    def check():
        while not done.is_set():
            rules_check()
        rules_check()

    annotator_work = [annotate(a) for a in annotators]

    def annotators_then_done():
        _threads(annotator_work)
        done.set()

    _threads([annotators_then_done, check, check])

    assert len(submitted) == ANNOTATORS * 5
    firings = list(RuleFiring.objects.filter(rule=rule))
    assert len(firings) == 1 and TrainingRun.objects.count() == 1
    assert firings[0].labels >= THRESHOLD and firings[0].run_id == TrainingRun.objects.get().pk


def test_checkers_racing_on_one_crossing_launch_once(pairwise_project, tiny_bert_ref):
    rule = _rule(pairwise_project, tiny_bert_ref)
    add_labels(pairwise_project, THRESHOLD + 5)
    fired = []
    _threads([lambda: fired.append(rule_fire(rule_id=rule.pk)) for _ in range(4)])
    assert len([f for f in fired if f is not None]) == 1
    assert RuleFiring.objects.filter(rule=rule).count() == 1 == TrainingRun.objects.count()
    assert Judgment.objects.count() == THRESHOLD + 5


def test_a_judgment_committed_after_the_watermark_passed_its_id_counts_in_the_next_crossing(
    pairwise_project, tiny_bert_ref
):
    from apps.autopilot.selectors import new_labels

    add_labels(pairwise_project, 20)  # enough rows for a run
    rule = training_rule_create(
        project=pairwise_project, user=pairwise_project.created_by, name="every 10",
        objective="reward_pairwise", config={"model": tiny_bert_ref, **REWARD_CONFIG},
        every_labels=10,
    )  # fmt: skip
    slow = add_member(pairwise_project, UserFactory())
    _, good, bad = learnable_pair(random.Random(5))
    make_task(pairwise_project, texts=[good, bad])
    lease = task_claim_next(project=pairwise_project, annotator=slow)
    held, inserted, release = [], threading.Event(), threading.Event()

    def submit_and_hold_the_transaction_open():
        try:
            with transaction.atomic():
                submission = judgment_submit(
                    assignment_id=lease.pk,
                    annotator=slow,
                    payload={"choice": "A", "strength": "clearly"},
                )
                held.append(submission.judgment.pk)
                inserted.set()
                assert release.wait(120)
        finally:
            connection.close()

    thread = threading.Thread(target=submit_and_hold_the_transaction_open)
    thread.start()
    try:
        assert inserted.wait(120)
        # Given: its id is taken, others submit and commit after it, and the rule fires on them.
        add_labels(pairwise_project, 10, seed=3)
        first = rule_fire(rule_id=rule.pk)
        rule.refresh_from_db()
        assert first is not None and first.labels == 10
        assert rule.label_watermark > held[0]  # the watermark moved past the uncommitted id
    finally:
        release.set()
        thread.join(timeout=120)
    # When: the held judgment commits, below the watermark.
    assert Judgment.objects.filter(pk=held[0]).exists()
    rule.refresh_from_db()
    # Then: it counts toward the next crossing, once.
    assert list(new_labels(rule=rule).values_list("pk", flat=True)) == [held[0]]
    TrainingRun.objects.update(status="succeeded")  # the first run ended
    add_labels(pairwise_project, 9, seed=4)
    second = rule_fire(rule_id=rule.pk)
    assert second is not None and second.labels == 10
    rule.refresh_from_db()
    assert new_labels(rule=rule).count() == 0
    assert rule.label_floor >= 0 and rule.label_horizon["xmax"] > 0
