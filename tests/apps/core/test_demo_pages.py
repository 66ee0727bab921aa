"""Pages that answered 500 on the demo's projects (found by `make demo-check`)."""

import pytest
from django.urls import reverse

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import FeedbackKind, Membership, Role
from apps.training.models import RunStatus, TaskScore, TrainingRun
from tests.factories import PASSWORD, ProjectFactory, StaffFactory, add_member, make_task

pytestmark = pytest.mark.django_db


def _project(kind: str):
    admin = StaffFactory()
    project = ProjectFactory(kind=kind, created_by=admin)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project, admin


def test_people_vs_model_of_a_listwise_project_with_a_reward_model_renders(client):
    project, admin = _project(FeedbackKind.LISTWISE)
    task = make_task(project, n_responses=3)
    annotator = add_member(project)
    lease = task_claim_next(project=project, annotator=annotator)
    # The third response ranked first: a chosen position no pair has.
    judgment_submit(assignment_id=lease.pk, annotator=annotator, payload={"ranks": [3, 2, 1]})
    run = TrainingRun.objects.create(
        project=project,
        objective="reward_listwise",
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=admin,
    )
    TaskScore.objects.create(task=task, run=run, scores=[0.1, 0.2, 0.9])
    client.login(username=admin.username, password=PASSWORD)

    page = client.get(reverse("dashboard:disagreements", args=[project.pk]))

    assert page.status_code == 200


def test_the_judges_calibration_page_of_a_demonstration_project_renders(client):
    project, admin = _project(FeedbackKind.DEMONSTRATION)
    make_task(project, n_responses=0)
    annotator = add_member(project)
    lease = task_claim_next(project=project, annotator=annotator)
    judgment_submit(
        assignment_id=lease.pk,
        annotator=annotator,
        payload={},
        written_response="Paris is the capital of France.",
    )
    client.login(username=admin.username, password=PASSWORD)

    page = client.get(reverse("judges:calibration", args=[project.pk]))

    assert page.status_code == 200
