"""Assignment and quotas under concurrency, on PostgreSQL, with real threads and connections
(as tests/apps/labeling/test_concurrency.py does for the overlap)."""

import contextlib
from collections import Counter

import pytest

from apps.core.errors import Conflict
from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.models import Task
from apps.labeling.services import task_claim_next
from apps.teams.services import member_terms_set, tasks_assign
from tests.apps.labeling.test_concurrency import THREADS, _run_in_threads
from tests.factories import ProjectFactory, UserFactory, add_member, make_tasks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TIE = {"choice": "tie"}


def label_until_done(project, annotator):
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        # Another thread of the same annotator may have submitted this lease first.
        with contextlib.suppress(Conflict):
            judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=TIE)


def test_sixteen_annotators_at_once_never_get_a_task_reserved_for_someone_else():
    project = ProjectFactory(overlap=2)
    tasks = make_tasks(project, 48)
    annotators = [add_member(project, UserFactory()) for _ in range(THREADS)]
    for a in annotators[:4]:
        member_terms_set(project=project, user_id=a.pk, quota=None, group="experts")
    owners = {}
    for i, annotator in enumerate(annotators[4:10]):
        ids = [t.pk for t in tasks[i * 2 : i * 2 + 2]]
        tasks_assign(project=project, task_ids=ids, annotator_id=annotator.pk)
        owners.update(dict.fromkeys(ids, annotator.pk))
    expert_ids = {t.pk for t in tasks[12:20]}
    tasks_assign(project=project, task_ids=sorted(expert_ids), group="experts")

    _run_in_threads(label_until_done, [(project, a) for a in annotators])

    experts = {a.pk for a in annotators[:4]}
    for task_id, annotator_id in Judgment.objects.values_list("task_id", "annotator_id"):
        if task_id in owners:
            assert annotator_id == owners[task_id]
        if task_id in expert_ids:
            assert annotator_id in experts
    per_task = Counter(Judgment.objects.values_list("task_id", flat=True))
    assert all(per_task[pk] == 1 for pk in owners), "one owner judges each of their tasks once"
    assert all(per_task[pk] == 2 for pk in expert_ids), "four experts fill each expert task"
    free = [t.pk for t in tasks[20:]]
    assert all(per_task[pk] == 2 for pk in free)
    assert max(Counter(Judgment.objects.values_list("task_id", "annotator_id")).values()) == 1
    assert all(t.judgment_count <= 2 for t in Task.objects.filter(project=project))


def test_one_annotators_claims_from_many_threads_at_once_stop_exactly_at_their_quota():
    project = ProjectFactory(overlap=1)
    make_tasks(project, 30)
    annotators = [add_member(project, UserFactory()) for _ in range(4)]
    for annotator in annotators:
        member_terms_set(project=project, user_id=annotator.pk, quota=5, group="")

    # Four threads per annotator: the same person labelling from four tabs at once.
    _run_in_threads(label_until_done, [(project, a) for a in annotators for _ in range(4)])

    per_annotator = Counter(Judgment.objects.values_list("annotator_id", flat=True))
    assert per_annotator == {a.pk: 5 for a in annotators}
