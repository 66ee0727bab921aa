"""Excluding an annotator frees their slots: their leases are released, their judgments stop
filling their tasks' overlap (so the tasks are offered again and end with the labels that
export), and they can neither claim nor submit. Lifting the exclusion never over-assigns."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.errors import Conflict, PermissionDenied
from apps.exports.selectors import judgments_for_export
from apps.feedback.models import Judgment
from apps.feedback.services import judgment_submit
from apps.labeling.models import Assignment, AssignmentStatus, Task
from apps.labeling.services import task_claim_next
from apps.quality.services import annotator_exclusion_set, judgment_exclusion_set
from tests.factories import add_member, make_task

pytestmark = pytest.mark.django_db
A_BETTER = {"choice": "A", "strength": "clearly"}


def judge_next(project, annotator) -> Judgment:
    lease = task_claim_next(project=project, annotator=annotator)
    return judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=A_BETTER).judgment


def exclude(project, annotator, excluded=True):
    return annotator_exclusion_set(
        project=project, annotator_id=annotator.pk, excluded=excluded, by=project.created_by
    )


def test_excluded_annotator_cannot_claim(project, annotator):
    make_task(project)
    exclude(project, annotator)
    with pytest.raises(PermissionDenied, match="excluded"):
        task_claim_next(project=project, annotator=annotator)
    assert not Assignment.objects.exists()


def test_exclusion_releases_open_leases_and_the_task_goes_to_another_annotator(project, annotator):
    task = make_task(project)
    held = task_claim_next(project=project, annotator=annotator)
    other = add_member(project)
    assert task_claim_next(project=project, annotator=other) is None, "the slot is taken"

    exclude(project, annotator)

    held.refresh_from_db()
    assert held.status == AssignmentStatus.EXPIRED and held.finished_at is not None
    assert task_claim_next(project=project, annotator=other).task == task


def test_excluded_annotator_cannot_submit_on_a_released_lease(project, annotator):
    task = make_task(project)
    held = task_claim_next(project=project, annotator=annotator)
    exclude(project, annotator)
    with pytest.raises(PermissionDenied):
        judgment_submit(assignment_id=held.pk, annotator=annotator, payload=A_BETTER)
    task.refresh_from_db()
    assert task.judgment_count == 0 and not Judgment.objects.exists()


def test_excluded_judgments_stop_counting_so_the_task_is_offered_again_and_completes_with_labels_that_export(
    project,
):
    project.overlap = 2
    project.save()
    task = make_task(project)
    bad, good, third = (add_member(project) for _ in range(3))
    judge_next(project, bad)
    judge_next(project, good)
    task.refresh_from_db()
    assert task.judgment_count == 2
    assert task_claim_next(project=project, annotator=third) is None, "full before exclusion"

    exclude(project, bad)

    task.refresh_from_db()
    assert task.judgment_count == 1
    judge_next(project, third)
    task.refresh_from_db()
    assert task.judgment_count == 2
    assert judgments_for_export(project=project).filter(task=task).count() == 2


def test_lifting_an_exclusion_counts_the_judgments_again_without_over_assigning(project):
    project.overlap = 2
    project.save()
    task = make_task(project)
    first, second, late = (add_member(project) for _ in range(3))
    judge_next(project, first)
    judge_next(project, second)
    exclude(project, first)
    exclude(project, first)  # twice: the count is recounted, never decremented twice
    task.refresh_from_db()
    assert task.judgment_count == 1

    exclude(project, first, excluded=False)
    exclude(project, first, excluded=False)

    task.refresh_from_db()
    assert task.judgment_count == 2
    assert task_claim_next(project=project, annotator=late) is None, "full again: not offered"
    assert task_claim_next(project=project, annotator=first) is None, "never the same task twice"


def test_an_excluded_single_judgment_frees_its_slot_and_including_it_fills_it_again(
    project,
):
    task = make_task(project)
    annotator, other = add_member(project), add_member(project)
    judgment = judge_next(project, annotator)

    judgment_exclusion_set(
        project=project, judgment_id=judgment.pk, excluded=True, by=project.created_by
    )
    task.refresh_from_db()
    assert task.judgment_count == 0
    lease = task_claim_next(project=project, annotator=other)
    assert lease.task == task

    judgment_exclusion_set(
        project=project, judgment_id=judgment.pk, excluded=False, by=project.created_by
    )
    assert Task.objects.get(pk=task.pk).judgment_count == 1


def test_excluded_annotator_is_told_why_on_the_labeling_page_and_the_api(
    client, project, annotator
):
    make_task(project)
    exclude(project, annotator)
    client.force_login(annotator)
    page = client.get(reverse("labeling:label", args=[project.pk]))
    assert page.status_code == 403 and "excluded from labeling" in page.content.decode()

    api = APIClient()
    api.force_authenticate(annotator)
    answer = api.post(f"/api/projects/{project.pk}/tasks/next/")
    assert answer.status_code == 403 and "excluded" in answer.data["detail"]
    assert not Assignment.objects.exists()


def test_a_lease_taken_while_a_label_was_excluded_takes_no_judgment_once_it_counts_again(
    project,
):
    project.overlap = 2
    project.save()
    task = make_task(project)
    first, second, late, later = (add_member(project) for _ in range(4))
    judge_next(project, first)
    judge_next(project, second)
    exclude(project, first)
    taken = task_claim_next(project=project, annotator=late)
    assert taken.task == task, "the freed slot is offered"

    exclude(project, first, excluded=False)

    with pytest.raises(Conflict, match="already has all the judgments"):
        judgment_submit(assignment_id=taken.pk, annotator=late, payload=A_BETTER)
    task.refresh_from_db()
    assert task.judgment_count == 2 and task.judgments.count() == 2
    assert task_claim_next(project=project, annotator=late) is None, "the lease is closed"
    taken.refresh_from_db()
    assert taken.status == AssignmentStatus.EXPIRED
    assert task_claim_next(project=project, annotator=later) is None
