"""Qualification: a new annotator first gets gold tasks only; their labels count (overlap,
figures, exports) only once they reach the set accuracy; failing stops their tasks."""

import pytest

from apps.core.errors import PermissionDenied
from apps.dashboard.selectors import counted_judgments as dashboard_counted
from apps.exports.selectors import judgments_for_export
from apps.feedback.services import judgment_submit
from apps.labeling.models import Task
from apps.labeling.services import counted_judgments, task_claim_next
from apps.projects.models import Membership, Qualification
from apps.projects.services import membership_set
from apps.teams.services import qualification_reset
from tests.factories import UserFactory, make_task, make_tasks

pytestmark = pytest.mark.django_db
A_BETTER = {"choice": "A", "strength": "clearly"}
B_BETTER = {"choice": "B", "strength": "clearly"}


@pytest.fixture
def qualifying(project):
    project.qualification_tasks, project.qualification_accuracy = 2, 0.5
    project.save()
    gold = [make_task(project, is_gold=True, gold_payload=A_BETTER) for _ in range(3)]
    plain = make_tasks(project, 3)
    user = UserFactory()
    membership_set(project=project, user=user)
    return project, user, gold, plain


def answer(project, user, payload):
    lease = task_claim_next(project=project, annotator=user)
    judgment_submit(assignment_id=lease.pk, annotator=user, payload=payload)
    return lease


def state(project, user) -> str:
    return Membership.objects.get(project=project, user=user).qualification


def test_a_qualifying_annotator_gets_gold_tasks_only_and_fills_no_slot(qualifying):
    project, user, _, _ = qualifying
    lease = answer(project, user, A_BETTER)
    assert lease.task.is_gold
    assert Task.objects.get(pk=lease.task_id).judgment_count == 0  # not counted yet
    assert state(project, user) == Qualification.PENDING
    assert not counted_judgments().filter(annotator=user).exists()


def test_passing_makes_the_labels_count_and_opens_the_other_tasks(qualifying):
    project, user, gold, _ = qualifying
    answer(project, user, A_BETTER)
    answer(project, user, B_BETTER)  # 1 of 2 right: 0.5 reaches the accuracy asked for

    lease = task_claim_next(project=project, annotator=user)  # evaluates: passed
    assert state(project, user) == Qualification.PASSED
    assert counted_judgments().filter(annotator=user).count() == 2
    assert (
        sum(
            Task.objects.filter(pk__in=[g.pk for g in gold]).values_list(
                "judgment_count", flat=True
            )
        )
        == 2
    )
    assert not lease.task.is_gold  # the rest of the project is open to them now
    judgment_submit(assignment_id=lease.pk, annotator=user, payload=A_BETTER)
    assert judgments_for_export(project=project).filter(annotator=user).count() == 1


def test_failing_stops_the_tasks_and_the_labels_never_count(qualifying):
    project, user, *_ = qualifying
    answer(project, user, B_BETTER)
    answer(project, user, B_BETTER)
    with pytest.raises(PermissionDenied, match="qualification"):
        task_claim_next(project=project, annotator=user)
    assert state(project, user) == Qualification.FAILED
    assert not dashboard_counted(project).filter(annotator=user).exists()

    qualification_reset(project=project, user_id=user.pk)  # the admin lets them try again
    assert state(project, user) == Qualification.PENDING


def test_the_judgment_event_settles_the_qualification_without_another_claim(
    qualifying, django_capture_on_commit_callbacks
):
    project, user, *_ = qualifying
    with django_capture_on_commit_callbacks(execute=True):
        answer(project, user, A_BETTER)
    assert state(project, user) == Qualification.PENDING
    with django_capture_on_commit_callbacks(execute=True):
        answer(project, user, A_BETTER)
    assert state(project, user) == Qualification.PASSED


def test_members_added_before_a_qualification_existed_are_not_asked_for_one(project, annotator):
    project.qualification_tasks = 2
    project.save()
    make_task(project)
    assert task_claim_next(project=project, annotator=annotator) is not None
