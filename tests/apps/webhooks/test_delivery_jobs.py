"""A webhook delivery is a job: one claim per try, its outcome committed with its state, and a
try cut short by a dead worker sent again by the reaper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core import events
from apps.core.jobs import JobStatus, SimulatedCrash, crash_at, job_claim, job_retry, jobs_reap
from apps.webhooks.models import WebhookDelivery
from apps.webhooks.services import (
    webhook_attempt,
    webhook_deliver,
    webhook_emit,
    webhook_endpoint_create,
)
from apps.webhooks.tasks import deliver_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(project, admin_user, receiver, allow_private):
    target = receiver()
    webhook_endpoint_create(
        project=project, url=target.url, events=["task.completed", "job.finished"], user=None
    )
    [made] = webhook_emit(project_id=project.pk, event="task.completed", payload={"task": 1})
    made.target = target
    return made


def test_a_delivery_held_by_a_live_worker_is_not_sent_twice(delivery):
    job_claim(WebhookDelivery, delivery.pk, worker="worker-a")

    again = webhook_attempt(delivery_id=delivery.pk, worker="worker-b")

    assert (again.status, again.attempts, again.worker) == ("running", 1, "worker-a")
    assert delivery.target.requests == []


def test_a_try_whose_worker_died_is_sent_again_by_the_reaper_and_finishes(
    delivery, settings, django_capture_on_commit_callbacks
):
    with pytest.raises(SimulatedCrash), crash_at("webhook.posted"):
        webhook_attempt(delivery_id=delivery.pk, worker="worker-a")
    stuck = WebhookDelivery.objects.get(pk=delivery.pk)
    assert stuck.status == JobStatus.RUNNING and len(delivery.target.requests) == 1

    later = timezone.now() + timedelta(seconds=settings.ARBITER_JOB_STALE_SECONDS + 1)
    with django_capture_on_commit_callbacks() as resent:
        reaped = jobs_reap(now=later)
    assert reaped["webhooks.WebhookDelivery"]["requeued"] == [delivery.pk]
    assert len(resent) == 1, "its message is sent again"

    done = webhook_attempt(delivery_id=delivery.pk, worker="worker-b")
    assert (done.status, done.attempts, len(done.log)) == ("succeeded", 2, 1)
    ids = {r["headers"]["X-Arbiter-Delivery"] for r in delivery.target.requests}
    assert ids == {str(delivery.event_id)}, "the receiver dedupes the repeat by its id"
    assert WebhookDelivery.objects.count() == 1


def test_a_queued_delivery_whose_message_was_lost_is_sent_again(
    delivery, settings, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(seconds=settings.ARBITER_JOB_QUEUED_TOO_LONG_SECONDS + 1)
    with django_capture_on_commit_callbacks() as resent:
        reaped = jobs_reap(now=later)
    assert reaped["webhooks.WebhookDelivery"]["resent"] == [delivery.pk]
    assert len(resent) == 1


def test_a_delivery_waiting_for_its_backoff_is_not_resent_before_it_is_due(
    project, receiver, allow_private, settings, django_capture_on_commit_callbacks
):
    settings.ARBITER_JOB_QUEUED_TOO_LONG_SECONDS = 60
    target = receiver(statuses=(503,))
    webhook_endpoint_create(project=project, url=target.url, events=["run.finished"], user=None)
    [delivery] = webhook_emit(project_id=project.pk, event="run.finished", payload={})
    for _ in range(3):  # the third failure waits 160 s
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
        waiting = webhook_attempt(delivery_id=delivery.pk)
    assert waiting.next_attempt_at - timezone.now() > timedelta(seconds=150)

    with django_capture_on_commit_callbacks() as resent:
        jobs_reap(now=timezone.now() + timedelta(seconds=90))
    assert resent == [], "90 s after its failure it is not yet due"


def test_a_failed_delivery_can_be_retried_with_a_new_budget(
    project, receiver, allow_private, django_capture_on_commit_callbacks
):
    target = receiver(statuses=(410, 200))
    webhook_endpoint_create(project=project, url=target.url, events=["run.finished"], user=None)
    [delivery] = webhook_emit(project_id=project.pk, event="run.finished", payload={})
    assert webhook_attempt(delivery_id=delivery.pk).status == JobStatus.FAILED

    with django_capture_on_commit_callbacks() as sent:
        job_retry(WebhookDelivery, delivery.pk)
    assert len(sent) == 1
    done = webhook_attempt(delivery_id=delivery.pk)
    assert (done.status, done.attempts, done.error) == ("succeeded", 1, "")


def test_a_finished_delivery_announces_no_job_finished_event(
    delivery, django_capture_on_commit_callbacks
):
    heard = []
    events.subscribe(heard.append, names=["job.finished"])
    try:
        with django_capture_on_commit_callbacks(execute=True) as after_commit:
            webhook_attempt(delivery_id=delivery.pk)
        assert after_commit, "the finish has its after-commit hook"
    finally:
        events.unsubscribe(heard.append)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == JobStatus.SUCCEEDED
    assert heard == [] and WebhookDelivery.objects.count() == 1


def test_the_delivery_task_is_safe_against_lost_workers_and_runs_twice_harmlessly(delivery):
    assert deliver_webhook.acks_late and deliver_webhook.reject_on_worker_lost
    deliver_webhook.apply(args=(delivery.pk,))
    deliver_webhook.apply(args=(delivery.pk,))
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == JobStatus.SUCCEEDED
    assert len(delivery.target.requests) == 1


def test_only_the_try_that_requeues_a_delivery_schedules_its_next_try(
    project, receiver, allow_private
):
    target = receiver(statuses=(503,))
    webhook_endpoint_create(project=project, url=target.url, events=["run.finished"], user=None)
    [delivery] = webhook_emit(project_id=project.pk, event="run.finished", payload={})

    due = webhook_deliver(delivery_id=delivery.pk, worker="worker-a")
    early = webhook_deliver(delivery_id=delivery.pk, worker="worker-b")  # a repeat, before due

    assert due == WebhookDelivery.objects.get(pk=delivery.pk).next_attempt_at > timezone.now()
    assert early is None and len(target.requests) == 1
