"""Each kind's pages show only what can apply to it: people vs reward model where labels prefer
one response (rankings too), a chat's reactions as its judgments, judges and a rubric where tasks
show responses, principles on principles projects."""

import pytest
from django.urls import reverse

from apps.chat.models import Conversation, Message, Reaction
from apps.dashboard.selectors import people_model_disagreements
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.projects.models import FeedbackKind, Membership, Role
from apps.training.models import RunStatus, TaskScore, TrainingRun
from tests.factories import PASSWORD, ProjectFactory, StaffFactory, add_member, make_task

pytestmark = pytest.mark.django_db


def _project(kind: str, overlap: int = 1):
    admin = StaffFactory()
    project = ProjectFactory(kind=kind, created_by=admin, overlap=overlap)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project, admin


def _reward_run(project, admin, objective: str) -> TrainingRun:
    return TrainingRun.objects.create(
        project=project,
        objective=objective,
        family="reward",
        config={},
        status=RunStatus.SUCCEEDED,
        created_by=admin,
    )


def test_a_ranking_whose_first_place_the_reward_model_scores_lower_is_a_disagreement():
    project, admin = _project(FeedbackKind.LISTWISE, overlap=2)
    tasks = [make_task(project, n_responses=3) for _ in range(2)]
    for _ in range(2):
        annotator = add_member(project)
        for _ in tasks:
            lease = task_claim_next(project=project, annotator=annotator)
            judgment_submit(
                assignment_id=lease.pk, annotator=annotator, payload={"ranks": [3, 2, 1]}
            )
    run = _reward_run(project, admin, "reward_listwise")
    TaskScore.objects.create(task=tasks[0], run=run, scores=[0.9, 0.2, 0.1])  # disagrees
    TaskScore.objects.create(task=tasks[1], run=run, scores=[0.1, 0.2, 0.9])  # agrees

    found = people_model_disagreements(project=project, run_id=run.pk)

    assert [(d.task_id, d.letters, d.votes) for d in found] == [
        (tasks[0].pk, ("C", "A"), (0, 0, 2))
    ]
    assert found[0].gap == pytest.approx(0.8)


def test_a_chat_projects_judgments_page_lists_its_reactions(client):
    project, admin = _project(FeedbackKind.CHAT)
    conversation = Conversation.objects.create(project=project, user=admin)
    reply = Message.objects.create(
        conversation=conversation, index=1, role="assistant", content="Paris.", model_name="m-7b"
    )
    Reaction.objects.create(message=reply, user=admin, kind="love")
    client.login(username=admin.username, password=PASSWORD)

    page = client.get(reverse("dashboard:judgments", args=[project.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "data-reaction=" in html and "Paris." in html and "data-empty" not in html


@pytest.mark.parametrize(
    ("kind", "judges", "principles", "rubric", "people_vs_model"),
    [
        (FeedbackKind.PAIRWISE, True, False, True, True),
        (FeedbackKind.LISTWISE, True, False, True, True),
        (FeedbackKind.PRINCIPLES, True, True, True, False),
        (FeedbackKind.THUMBS, True, False, True, False),
        (FeedbackKind.HINDSIGHT, True, False, True, True),
        (FeedbackKind.CHAT, False, False, False, False),
        (FeedbackKind.DEMONSTRATION, False, False, False, False),
    ],
)
def test_each_kind_links_only_the_pages_that_can_apply_to_it(
    client, kind, judges, principles, rubric, people_vs_model
):
    project, admin = _project(kind)
    client.login(username=admin.username, password=PASSWORD)

    detail = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    nav = client.get(reverse("dashboard:jobs", args=[project.pk])).content.decode()
    page = client.get(reverse("projects:principles", args=[project.pk]))

    assert (reverse("judges:list", args=[project.pk]) in detail) == judges
    assert (reverse("projects:principles", args=[project.pk]) in detail) == rubric
    assert (reverse("dashboard:disagreements", args=[project.pk]) in nav) == people_vs_model
    # Opened by its address, the page still answers, with the sections that apply.
    assert page.status_code == 200
    html = page.content.decode()
    assert ('value="principle"' in html) == principles
    assert ('value="rubric"' in html) == rubric
