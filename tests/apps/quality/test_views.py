import pytest
from django.urls import reverse

from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_admin_sees_the_quality_table_and_can_exclude_then_include_an_annotator(
    client, project, admin_user, annotator
):
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    judgment_submit(
        assignment_id=lease.pk, annotator=annotator, payload={"choice": "A", "strength": "much"}
    )
    client.force_login(admin_user)
    page = client.get(reverse("quality:table", args=[project.pk])).content.decode()
    assert "Krippendorff" in page and f'data-annotator="{annotator.username}"' in page

    client.post(reverse("quality:exclude", args=[project.pk, annotator.pk]), {"excluded": "1"})
    page = client.get(reverse("quality:table", args=[project.pk])).content.decode()
    assert f"by {admin_user.username}" in page and "Include again" in page
    client.post(reverse("quality:exclude", args=[project.pk, annotator.pk]), {"excluded": "0"})
    assert project.memberships.get(user=annotator).excluded_at is None


def test_annotators_cannot_see_label_quality(client, project, annotator):
    client.force_login(annotator)
    assert client.get(reverse("quality:table", args=[project.pk])).status_code == 404
    assert (
        client.post(
            reverse("quality:exclude", args=[project.pk, annotator.pk]), {"excluded": "1"}
        ).status_code
        == 404
    )
