"""Many annotators at once, on PostgreSQL, with real threads and connections."""

import threading
from collections import Counter

import pytest
from django.db import connection

from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.models import Assignment, AssignmentStatus, Task
from apps.labeling.services import task_claim_next
from tests.factories import ProjectFactory, UserFactory, add_member, make_tasks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16


def _run_in_threads(target, args_list):
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(args_list))

    def runner(*args):
        try:
            barrier.wait()
            target(*args)
        except BaseException as exc:  # surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def test_sixteen_annotators_claiming_at_once_never_exceed_overlap_or_judge_twice():
    project = ProjectFactory(overlap=3)
    tasks = make_tasks(project, 40)
    annotators = [add_member(project, UserFactory()) for _ in range(THREADS)]

    def label_until_done(annotator):
        while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
            judgment_submit(assignment_id=lease.pk, annotator=annotator, payload={"choice": "tie"})
            # A double click: the same submission again, at once.
            judgment_submit(assignment_id=lease.pk, annotator=annotator, payload={"choice": "tie"})

    _run_in_threads(label_until_done, [(a,) for a in annotators])

    per_task = Counter(Judgment.objects.values_list("task_id", flat=True))
    per_pair = Counter(Judgment.objects.values_list("task_id", "annotator_id"))
    assert max(per_task.values()) == 3
    assert set(per_task.values()) == {3}, "every task reaches exactly its overlap"
    assert max(per_pair.values()) == 1
    assert len(per_task) == len(tasks)
    assert all(t.judgment_count == 3 for t in Task.objects.filter(project=project))
    assert not Assignment.objects.filter(status=AssignmentStatus.ACTIVE).exists()


def test_concurrent_claims_by_many_annotators_hand_out_each_single_slot_once():
    project = ProjectFactory(overlap=1)
    make_tasks(project, 5)
    annotators = [add_member(project, UserFactory()) for _ in range(THREADS)]
    _run_in_threads(
        lambda a: task_claim_next(project=project, annotator=a), [(a,) for a in annotators]
    )
    leased = Counter(Assignment.objects.values_list("task_id", flat=True))
    assert len(leased) == 5
    assert set(leased.values()) == {1}


def test_the_same_submission_sent_from_sixteen_threads_is_stored_once():
    project = ProjectFactory(overlap=1)
    make_tasks(project, 1)
    annotator = add_member(project, UserFactory())
    lease = task_claim_next(project=project, annotator=annotator)
    _run_in_threads(
        lambda: judgment_submit(
            assignment_id=lease.pk, annotator=annotator, payload={"choice": "A", "strength": "much"}
        ),
        [() for _ in range(THREADS)],
    )
    assert Judgment.objects.count() == 1
    assert Task.objects.get().judgment_count == 1
