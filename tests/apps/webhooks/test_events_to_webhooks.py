"""Domain events become webhook deliveries: after the emitting action commits, never on rollback."""

import pytest
from django.db import transaction

from apps.core import events
from apps.core.jobs import job_claim, job_fail_claim
from apps.exports.models import ExportJob
from apps.feedback.services import judgment_submit
from apps.labeling.services import task_claim_next
from apps.webhooks.models import WebhookDelivery
from apps.webhooks.services import webhook_endpoint_create
from tests.factories import add_member, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(settings, project):
    settings.ARBITER_WEBHOOKS_ALLOW_PRIVATE = True
    return webhook_endpoint_create(
        project=project,
        url="http://127.0.0.1:9/hook",
        events=["judgment.submitted", "task.completed", "job.finished"],
        user=None,
    )


def test_a_judgment_that_completes_its_task_records_both_deliveries_after_commit(
    project, endpoint, django_capture_on_commit_callbacks
):
    project.overlap = 2
    project.save()
    task = make_task(project)
    for who in (add_member(project), add_member(project)):
        lease = task_claim_next(project=project, annotator=who)
        recorded = WebhookDelivery.objects.count()
        with django_capture_on_commit_callbacks(execute=False) as after_commit:
            judgment_submit(assignment_id=lease.pk, annotator=who, payload={"choice": "tie"})
        assert WebhookDelivery.objects.count() == recorded, "nothing before the commit"
        with django_capture_on_commit_callbacks(execute=False) as sends:
            for callback in after_commit:  # the commit
                callback()
        assert len(sends) == WebhookDelivery.objects.count() - recorded > 0, (
            "each delivery recorded on commit is queued to a worker"
        )
    deliveries = WebhookDelivery.objects.order_by("id").values_list("event", "payload__task")
    assert list(deliveries) == [
        ("judgment.submitted", task.pk),
        ("judgment.submitted", task.pk),
        ("task.completed", task.pk),
    ]


def test_a_rolled_back_judgment_sends_nothing(
    project, endpoint, annotator, django_capture_on_commit_callbacks
):
    make_task(project)
    lease = task_claim_next(project=project, annotator=annotator)
    with (
        django_capture_on_commit_callbacks(execute=False) as after_commit,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        judgment_submit(assignment_id=lease.pk, annotator=annotator, payload={"choice": "tie"})
        raise RuntimeError("the request failed after the submit")
    assert after_commit == [] and not WebhookDelivery.objects.exists()


def test_only_events_an_endpoint_subscribed_to_are_delivered(
    project, endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        events.emit("run.finished", project_id=project.pk, payload={"run": 1})
        events.emit("job.finished", project_id=project.pk, payload={"kind": "export", "job": 3})
    with django_capture_on_commit_callbacks(execute=False):  # the sends stay unsent
        for callback in after_commit:
            callback()
    assert list(WebhookDelivery.objects.values_list("event", "endpoint")) == [
        ("job.finished", endpoint.pk)
    ]


def test_an_event_of_a_project_without_receivers_costs_one_query(
    project, django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        events.emit("judgment.submitted", project_id=project.pk, payload={"judgment": 1})
    with django_assert_num_queries(1):
        for callback in after_commit:
            callback()
    assert not WebhookDelivery.objects.exists()


def test_a_job_that_fails_is_sent_as_job_finished_with_its_reason(
    project, admin_user, endpoint, django_capture_on_commit_callbacks
):
    job = ExportJob.objects.create(
        project=project, kind="pairs", format="jsonl", options={}, created_by=admin_user
    )
    claimed = job_claim(ExportJob, job.pk, worker="worker-1")

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        job_fail_claim(claimed, "The disk is full.")
    with django_capture_on_commit_callbacks(execute=False) as event_out:  # the finish hook
        for callback in after_commit:
            callback()
    with django_capture_on_commit_callbacks(execute=False) as sends:  # the event; sends unsent
        for callback in event_out:
            callback()
    assert len(sends) == 1

    [delivery] = WebhookDelivery.objects.filter(event="job.finished")
    assert delivery.payload == {
        "kind": "exports.ExportJob",
        "job": job.pk,
        "status": "failed",
        "error": "The disk is full.",
        "attempts": 1,
    }
