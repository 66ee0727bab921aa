"""A project's feedback kind is fixed once it has tasks: the settings form, the API and the
service all keep it, so old tasks are never served to a page (or checked against a payload) of
another kind."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.errors import Conflict
from apps.labeling.services import task_groups_for_prompt, tasks_bulk_create
from apps.projects.models import FeedbackKind, Project
from apps.projects.services import project_update
from tests.factories import PromptFactory, ResponseFactory, make_task

pytestmark = pytest.mark.django_db


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_service_refuses_a_kind_change_once_the_project_has_tasks(project):
    make_task(project)
    with pytest.raises(Conflict, match="cannot change once the project has tasks"):
        project_update(project=project, kind=FeedbackKind.LISTWISE)
    assert Project.objects.get(pk=project.pk).kind == FeedbackKind.PAIRWISE


def test_service_changes_the_kind_of_a_project_without_tasks(project):
    project_update(project=project, kind=FeedbackKind.LISTWISE, overlap=2)
    project.refresh_from_db()
    assert (project.kind, project.overlap) == (FeedbackKind.LISTWISE, 2)


def test_settings_form_keeps_the_kind_once_tasks_exist_and_still_saves_other_settings(
    client, project, admin_user
):
    make_task(project)
    client.force_login(admin_user)
    url = reverse("projects:settings", args=[project.pk])
    page = client.get(url).content.decode()
    assert "Fixed: the project already has tasks" in page
    form = {
        "name": "Renamed",
        "kind": FeedbackKind.LISTWISE,
        "overlap": 3,
        "pair_strategy": "all",
        "max_pairs_per_prompt": 6,
        "critique_policy": "optional",
        "critique_min_length": 0,
        "gold_rate": 0,
        "queue_order": "fifo",
    }
    assert client.post(url, form).status_code == 302
    project.refresh_from_db()
    assert (project.name, project.overlap, project.kind) == ("Renamed", 3, FeedbackKind.PAIRWISE)


def test_api_patch_refuses_a_kind_change_with_409_once_tasks_exist(project, admin_user):
    make_task(project)
    answer = api_as(admin_user).patch(
        f"/api/projects/{project.pk}/", {"kind": "listwise"}, format="json"
    )
    assert answer.status_code == 409 and "cannot change" in answer.data["detail"]
    assert Project.objects.get(pk=project.pk).kind == FeedbackKind.PAIRWISE


def test_api_patch_changes_settings_of_a_project_without_tasks(project, admin_user):
    answer = api_as(admin_user).patch(
        f"/api/projects/{project.pk}/", {"kind": "thumbs", "overlap": 2}, format="json"
    )
    assert answer.status_code == 200 and (answer.data["kind"], answer.data["overlap"]) == (
        "thumbs",
        2,
    )


def test_annotators_cannot_patch_their_project(project, annotator):
    answer = api_as(annotator).patch(f"/api/projects/{project.pk}/", {"name": "x"}, format="json")
    assert answer.status_code == 404
    assert Project.objects.get(pk=project.pk).name != "x"


def test_tasks_made_for_a_kind_that_changed_meanwhile_are_refused(project):
    prompt = PromptFactory(project=project)
    responses = [ResponseFactory(prompt=prompt) for _ in range(3)]
    import random

    groups = task_groups_for_prompt(
        kind=project.kind, n_responses=3, strategy="all", limit=6, rng=random.Random(0)
    )
    stale = Project.objects.get(pk=project.pk)
    Project.objects.filter(pk=project.pk).update(kind=FeedbackKind.LISTWISE)
    with pytest.raises(Conflict, match="kind changed"):
        tasks_bulk_create(project=stale, prompt_groups=[(prompt, responses, groups, {})])
    assert not project.tasks.exists()


def test_a_task_of_another_kind_left_from_before_is_never_served(project, annotator):
    from apps.labeling.models import Task
    from apps.labeling.services import task_claim_next

    left_over = make_task(project, n_responses=3)
    Task.objects.filter(pk=left_over.pk).update(kind=FeedbackKind.LISTWISE)  # from before
    assert task_claim_next(project=project, annotator=annotator) is None
    matching = make_task(project)
    assert task_claim_next(project=project, annotator=annotator).task == matching
