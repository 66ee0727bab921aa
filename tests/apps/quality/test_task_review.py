import pytest
from django.urls import reverse

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from tests.factories import add_member, make_task

pytestmark = pytest.mark.django_db


def test_admin_compares_every_judgment_of_a_task_and_excludes_one(client, project, admin_user):
    project.overlap = 2
    project.save()
    task = make_task(project)
    one, two = add_member(project), add_member(project)
    judgments = []
    for who, choice in ((one, "A"), (two, "B")):
        lease = task_claim_next(project=project, annotator=who)
        judgments.append(
            judgment_submit(
                assignment_id=lease.pk,
                annotator=who,
                payload={"choice": choice, "strength": "much"},
            ).judgment
        )
    client.force_login(admin_user)
    page = client.get(reverse("quality:task", args=[project.pk, task.pk])).content.decode()
    assert one.username in page and two.username in page
    assert page.count("data-judgment=") == 2

    client.post(
        reverse("quality:exclude-judgment", args=[project.pk, judgments[1].pk]), {"excluded": "1"}
    )
    judgments[1].refresh_from_db()
    assert judgments[1].excluded_at is not None and judgments[1].excluded_by == admin_user


def test_annotator_cannot_open_the_task_review(client, project, annotator):
    task = make_task(project)
    client.force_login(annotator)
    assert client.get(reverse("quality:task", args=[project.pk, task.pk])).status_code == 404
