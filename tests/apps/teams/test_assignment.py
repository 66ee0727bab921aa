"""Assignment: tasks reserved for an annotator or a group reach only them; a share of a
project is dealt to named annotators; a quota stops an annotator's claims."""

import pytest
from django.urls import reverse

from apps.feedback.services import judgment_submit
from apps.labeling.models import Task
from apps.labeling.services import task_claim_next
from apps.teams.services import member_terms_set, project_share_assign, tasks_assign
from tests.factories import UserFactory, add_member, make_task, make_tasks

pytestmark = pytest.mark.django_db
A_BETTER = {"choice": "A", "strength": "clearly"}


def claim_all(project, annotator) -> list[int]:
    got = []
    while (lease := task_claim_next(project=project, annotator=annotator)) is not None:
        got.append(lease.task_id)
        judgment_submit(assignment_id=lease.pk, annotator=annotator, payload=A_BETTER)
    return got


def test_a_task_assigned_to_an_annotator_reaches_only_them(project):
    alice, bob = add_member(project, UserFactory()), add_member(project, UserFactory())
    reserved, free = make_task(project), make_task(project)
    tasks_assign(project=project, task_ids=[reserved.pk], annotator_id=alice.pk)

    assert claim_all(project, bob) == [free.pk]
    assert claim_all(project, alice) == [reserved.pk]


def test_a_task_assigned_to_a_group_reaches_only_its_members(project):
    linguist, other = add_member(project, UserFactory()), add_member(project, UserFactory())
    member_terms_set(project=project, user_id=linguist.pk, quota=None, group="linguists")
    reserved = make_task(project)
    tasks_assign(project=project, task_ids=[reserved.pk], group="Linguists")

    assert claim_all(project, other) == []
    assert claim_all(project, linguist) == [reserved.pk]


def test_a_share_of_the_open_tasks_is_dealt_in_turn_to_the_named_annotators(project):
    alice, bob = add_member(project, UserFactory()), add_member(project, UserFactory())
    make_tasks(project, 10)
    make_task(project, is_gold=True, gold_payload=A_BETTER)

    assert project_share_assign(project=project, share=0.4, annotator_ids=[alice.pk, bob.pk]) == 4
    assert Task.objects.filter(assignee=alice).count() == 2
    assert Task.objects.filter(assignee=bob).count() == 2
    assert not Task.objects.filter(is_gold=True, assignee__isnull=False).exists()


def test_assigning_someone_outside_the_project_is_refused(project):
    task = make_task(project)
    stranger = UserFactory()
    with pytest.raises(Exception, match="members"):
        tasks_assign(project=project, task_ids=[task.pk], annotator_id=stranger.pk)


def test_an_annotator_at_their_quota_gets_no_more_tasks(project, annotator):
    make_tasks(project, 5)
    member_terms_set(project=project, user_id=annotator.pk, quota=2, group="")
    assert len(claim_all(project, annotator)) == 2
    member_terms_set(project=project, user_id=annotator.pk, quota=3, group="")
    assert len(claim_all(project, annotator)) == 1


def test_a_held_lease_counts_toward_the_quota_and_is_returned_again(project, annotator):
    make_tasks(project, 3)
    member_terms_set(project=project, user_id=annotator.pk, quota=1, group="")
    first = task_claim_next(project=project, annotator=annotator)
    assert task_claim_next(project=project, annotator=annotator) == first
    judgment_submit(assignment_id=first.pk, annotator=annotator, payload=A_BETTER)
    assert task_claim_next(project=project, annotator=annotator) is None


def test_the_labeling_page_says_when_the_annotator_reached_their_quota(client, project, annotator):
    make_tasks(project, 3)
    member_terms_set(project=project, user_id=annotator.pk, quota=1, group="")
    assert len(claim_all(project, annotator)) == 1
    client.force_login(annotator)
    page = client.get(reverse("labeling:label", args=[project.pk])).content.decode()
    assert "You have reached your quota of 1 task in this project." in page
