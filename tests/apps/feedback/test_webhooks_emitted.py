import pytest

from apps.exports.models import WebhookDelivery
from apps.exports.webhooks import webhook_endpoint_create
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from tests.factories import add_member, make_task

pytestmark = pytest.mark.django_db


def test_a_judgment_that_completes_its_task_queues_both_webhooks_on_commit(
    settings, project, django_capture_on_commit_callbacks
):
    settings.ARBITER_WEBHOOKS_ALLOW_PRIVATE = True
    project.overlap = 2
    project.save()
    webhook_endpoint_create(
        project=project,
        url="http://127.0.0.1:9/hook",
        events=["judgment.submitted", "task.completed"],
        user=None,
    )
    task = make_task(project)
    for who in (add_member(project), add_member(project)):
        lease = task_claim_next(project=project, annotator=who)
        with django_capture_on_commit_callbacks(execute=False) as queued:
            judgment_submit(assignment_id=lease.pk, annotator=who, payload={"choice": "tie"})
        assert queued, "deliveries go out only after the judgment commits"
    events = list(WebhookDelivery.objects.order_by("id").values_list("event", "payload__task"))
    assert events == [
        ("judgment.submitted", task.pk),
        ("judgment.submitted", task.pk),
        ("task.completed", task.pk),
    ]
