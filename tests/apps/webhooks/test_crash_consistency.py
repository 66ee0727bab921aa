"""Webhook deliveries when processes die or messages arrive twice: the delivery ends delivered,
once as a row, and the receiver sees only its one delivery id (a repeat POST is possible — the
crash may come after the receiver answered — and is what `X-Arbiter-Delivery` dedupes)."""

import os
import signal
import threading
import time
from datetime import timedelta

import psutil
import pytest
from django.db import connection
from django.utils import timezone

from apps.core.jobs import JobStatus, SimulatedCrash, crash_at, jobs_reap, stale_after
from apps.webhooks.models import WebhookDelivery
from apps.webhooks.services import webhook_attempt, webhook_emit, webhook_endpoint_create

# (crash point, POSTs the receiver sees in all): after the claim commits nothing was sent yet;
# after the POST the answer is lost with the process; after the final commit all is done.
BOUNDARIES = [("job.claimed", 1), ("webhook.posted", 2), ("job.finished", 1)]


@pytest.fixture
def delivery(project, receiver, allow_private):
    target = receiver()
    webhook_endpoint_create(project=project, url=target.url, events=["task.completed"], user=None)
    [made] = webhook_emit(project_id=project.pk, event="task.completed", payload={"task": 1})
    made.target = target
    return made


@pytest.mark.django_db
@pytest.mark.parametrize(("point", "posts"), BOUNDARIES)
def test_a_crash_at_each_commit_boundary_then_redelivery_delivers_once(
    delivery, point, posts, django_capture_on_commit_callbacks
):
    with crash_at(point) as reached, pytest.raises(SimulatedCrash):
        webhook_attempt(delivery_id=delivery.pk, worker="worker-a")
    assert point in reached
    webhook_attempt(delivery_id=delivery.pk, worker="worker-b")  # the broker's redelivery
    later = timezone.now() + stale_after() + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=False):  # the reaper's message, sent below
        jobs_reap(now=later)
    done = webhook_attempt(delivery_id=delivery.pk, worker="worker-c")

    assert done.status == JobStatus.SUCCEEDED and done.finished_at is not None
    assert WebhookDelivery.objects.count() == 1
    assert len(delivery.target.requests) == posts
    ids = {request["headers"]["X-Arbiter-Delivery"] for request in delivery.target.requests}
    assert ids == {str(delivery.event_id)}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_message_at_once_post_once(delivery):
    start = threading.Barrier(2)
    raised: list[BaseException] = []

    def deliver(worker: str) -> None:
        try:
            start.wait()
            webhook_attempt(delivery_id=delivery.pk, worker=worker)
        except BaseException as exc:  # reported below
            raised.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(f"worker-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert raised == []
    done = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (done.status, done.attempts, len(done.log)) == ("succeeded", 1, 1)
    assert len(delivery.target.requests) == 1


@pytest.mark.worker
@pytest.mark.postgres
def test_a_delivery_whose_pool_process_is_killed_mid_try_is_delivered_again(
    start_worker, project, receiver, tmp_path, settings
):
    settings.ARBITER_WEBHOOKS_ALLOW_PRIVATE = True
    target = receiver()
    flag = tmp_path / "paused"
    worker = start_worker(
        "default",
        name="webhooks",
        app="tests.apps.core.pausing_worker",
        pool="prefork",
        ARBITER_TEST_PAUSE_AT="webhook.posted",
        ARBITER_TEST_PAUSE_FLAG=str(flag),
        ARBITER_WEBHOOKS_ALLOW_PRIVATE="true",
    )
    webhook_endpoint_create(project=project, url=target.url, events=["task.completed"], user=None)
    [delivery] = webhook_emit(project_id=project.pk, event="task.completed", payload={"task": 1})
    wait_until(flag.exists, what="the try to reach its pause point", worker=worker)
    child = int(flag.read_text())
    assert child in [p.pid for p in psutil.Process(worker.proc.pid).children(recursive=True)]
    assert len(target.requests) == 1, "the receiver answered; the worker dies before recording it"

    os.kill(child, signal.SIGKILL)  # as the kernel's out-of-memory killer would

    wait_until(
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).is_finished,
        what="the delivery to end",
        worker=worker,
    )
    done = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (done.status, done.attempts, len(done.log)) == ("succeeded", 2, 1)
    assert WebhookDelivery.objects.count() == 1
    ids = [request["headers"]["X-Arbiter-Delivery"] for request in target.requests]
    assert ids == [str(delivery.event_id)] * 2, "the repeat carries the same id, for dedupe"


def wait_until(predicate, *, what: str, worker, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{worker.log()[-4000:]}")
        time.sleep(0.2)
