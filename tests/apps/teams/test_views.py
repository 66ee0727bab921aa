"""The team page: an admin sees members with their qualification, sets quotas and groups,
reserves a share of the project, and withdraws an invitation."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.labeling.models import Task
from apps.projects.models import Membership
from apps.projects.services import membership_set
from apps.teams.models import Invitation
from apps.teams.services import invitation_create
from tests.factories import ProjectFactory, UserFactory, add_member, make_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_team_page_lists_members_with_group_quota_and_qualification(
    admin_client, project, annotator
):
    page = admin_client.get(reverse("teams:team", args=[project.pk])).content.decode()
    assert f'data-member="{annotator.username}"' in page
    assert "Not required" in page


def test_an_admin_sets_a_quota_and_a_group(admin_client, project, annotator):
    admin_client.post(
        reverse("teams:member", args=[project.pk, annotator.pk]),
        {"quota": "12", "group": "Night Shift"},
    )
    membership = Membership.objects.get(project=project, user=annotator)
    assert (membership.quota, membership.group) == (12, "night-shift")


def test_an_admin_reserves_a_share_of_the_open_tasks_for_named_annotators(admin_client, project):
    ann, bob = add_member(project, UserFactory()), add_member(project, UserFactory())
    make_tasks(project, 8)
    admin_client.post(
        reverse("teams:assign", args=[project.pk]),
        {"action": "share", "percent": "50", "annotators": [ann.pk, bob.pk]},
    )
    assert Task.objects.filter(assignee=ann).count() == 2
    assert Task.objects.filter(assignee=bob).count() == 2


def test_an_admin_assigns_tasks_by_id_to_a_group_and_frees_them_again(admin_client, project):
    tasks = make_tasks(project, 3)
    url = reverse("teams:assign", args=[project.pk])
    ids = f"{tasks[0].pk}, {tasks[1].pk}"
    admin_client.post(url, {"action": "tasks", "task_ids": ids, "group": "experts"})
    assert Task.objects.filter(assignee_group="experts").count() == 2
    admin_client.post(url, {"action": "tasks", "task_ids": ids})
    assert not Task.objects.exclude(assignee_group="").exists()


def test_tasks_of_another_project_are_not_touched(admin_client, project):
    foreign = make_tasks(ProjectFactory(), 1)[0]
    admin_client.post(
        reverse("teams:assign", args=[project.pk]),
        {"action": "tasks", "task_ids": str(foreign.pk), "group": "experts"},
    )
    assert Task.objects.get(pk=foreign.pk).assignee_group == ""


def test_a_withdrawn_invitation_no_longer_works(admin_client, client, project, admin_user):
    invitation, secret = invitation_create(project=project, by=admin_user)
    admin_client.post(reverse("teams:invitation-withdraw", args=[project.pk, invitation.pk]))
    assert not Invitation.objects.exists()
    assert admin_client.get(reverse("teams:accept", args=[secret])).status_code == 410


def test_the_team_page_costs_the_same_queries_for_two_qualifying_annotators_or_ten(
    admin_client, project
):
    project.qualification_tasks = 2
    project.save()
    url = reverse("teams:team", args=[project.pk])

    def queries_with(n_members: int) -> int:
        while (
            Membership.objects.filter(project=project, qualification="pending").count() < n_members
        ):
            membership_set(project=project, user=UserFactory())
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured.captured_queries)

    assert queries_with(2) == queries_with(10)
