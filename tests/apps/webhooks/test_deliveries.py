"""Webhooks: signed deliveries to a receiver on 127.0.0.1 (allowed by the test's settings), and
targets on loopback, private or link-local addresses refused by default, before connecting."""

import json
import socket
import time

import pytest

from apps.core.errors import ApplicationError
from apps.core.jobs import JobStatus
from apps.core.outbound import UnsafeTarget
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import (
    MAX_ATTEMPTS,
    backoff_seconds,
    webhook_attempt,
    webhook_emit,
    webhook_endpoint_create,
    webhook_signature,
    webhook_signature_valid,
)
from apps.webhooks.services import receiver_target as resolve_target
from tests.apps.webhooks.receiver import due_now

pytestmark = pytest.mark.django_db


def test_a_delivery_to_a_local_receiver_carries_a_valid_signature(
    project, admin_user, receiver, allow_private, django_capture_on_commit_callbacks
):
    target = receiver()
    endpoint = webhook_endpoint_create(
        project=project, url=target.url, events=["judgment.submitted"], user=admin_user
    )
    with django_capture_on_commit_callbacks() as queued:
        [delivery] = webhook_emit(
            project_id=project.pk, event="judgment.submitted", payload={"judgment": 7}
        )
        webhook_emit(
            project_id=project.pk, event="task.completed", payload={"task": 1}
        )  # not subscribed
    assert len(queued) == 1

    delivery = webhook_attempt(delivery_id=delivery.pk)

    assert delivery.status == JobStatus.SUCCEEDED and delivery.response_status == 200
    [request] = target.requests
    headers, body = request["headers"], request["body"]
    assert webhook_signature_valid(
        secret=endpoint.secret,
        timestamp=headers["X-Arbiter-Timestamp"],
        body=body,
        signature=headers["X-Arbiter-Signature"],
    )
    assert not webhook_signature_valid(
        secret="wrong",
        timestamp=headers["X-Arbiter-Timestamp"],
        body=body,
        signature=headers["X-Arbiter-Signature"],
    )
    envelope = json.loads(body)
    assert envelope["event"] == "judgment.submitted" and envelope["data"] == {"judgment": 7}
    assert envelope["id"] == headers["X-Arbiter-Delivery"] == str(delivery.event_id)
    assert len(delivery.log) == 1 and delivery.log[0]["status"] == 200
    assert webhook_attempt(delivery_id=delivery.pk).attempts == 1, "a delivered event is not resent"


def test_server_errors_are_retried_with_backoff_then_given_up(
    project, admin_user, receiver, allow_private
):
    target = receiver(statuses=(503, 200))
    webhook_endpoint_create(
        project=project, url=target.url, events=["task.completed"], user=admin_user
    )
    [delivery] = webhook_emit(project_id=project.pk, event="task.completed", payload={"task": 1})

    first = webhook_attempt(delivery_id=delivery.pk)
    assert (first.status, first.attempts, first.error) == ("queued", 1, "HTTP 503")
    assert first.next_attempt_at is not None
    assert webhook_attempt(delivery_id=delivery.pk).attempts == 1, "not tried before it is due"
    second = webhook_attempt(delivery_id=due_now(delivery).pk)
    assert (second.status, second.attempts, len(second.log)) == ("succeeded", 2, 2)

    always_failing = receiver(statuses=(500,))
    WebhookEndpoint.objects.update(url=always_failing.url)
    [failing] = webhook_emit(project_id=project.pk, event="task.completed", payload={"task": 2})
    for _ in range(MAX_ATTEMPTS):
        failing = webhook_attempt(delivery_id=due_now(failing).pk)
    assert (failing.status, failing.attempts, failing.error) == ("failed", MAX_ATTEMPTS, "HTTP 500")
    assert failing.finished_at is not None and len(failing.log) == MAX_ATTEMPTS
    assert [backoff_seconds(n) for n in (1, 2, 3, 6, 9)] == [10, 40, 160, 3600, 3600]


def test_a_client_error_fails_at_once(project, admin_user, receiver, allow_private):
    target = receiver(statuses=(410,))
    webhook_endpoint_create(
        project=project, url=target.url, events=["run.finished"], user=admin_user
    )
    [delivery] = webhook_emit(project_id=project.pk, event="run.finished", payload={"run": 1})

    assert webhook_attempt(delivery_id=delivery.pk).status == JobStatus.FAILED


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://2130706433/hook",  # 127.0.0.1 spelt as a number
        "http://localhost/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_loopback_private_and_link_local_targets_are_refused_before_connecting(
    project, admin_user, url, monkeypatch
):
    def no_connection(*args, **kwargs):
        raise AssertionError("a refused target must never be connected to")

    monkeypatch.setattr(socket, "create_connection", no_connection)

    with pytest.raises(UnsafeTarget, match="public addresses only"):
        resolve_target(url)
    with pytest.raises(ApplicationError):
        webhook_endpoint_create(project=project, url=url, events=["run.finished"], user=admin_user)
    # An endpoint stored earlier (e.g. while the setting allowed it) is refused at delivery time.
    endpoint = WebhookEndpoint.objects.create(project=project, url=url, events=["run.finished"])
    [delivery] = webhook_emit(project_id=project.pk, event="run.finished", payload={})
    delivery = webhook_attempt(delivery_id=delivery.pk)
    assert delivery.status == JobStatus.FAILED and "public addresses" in delivery.error
    endpoint.delete()


def test_other_schemes_and_unknown_events_are_refused(project, admin_user):
    with pytest.raises(UnsafeTarget, match="http"):
        resolve_target("file:///etc/passwd")
    with pytest.raises(ApplicationError, match="unknown: nope"):
        webhook_endpoint_create(project=project, url="http://8.8.8.8/", events=["nope"], user=None)


def test_stale_or_forged_signatures_are_invalid():
    body = b'{"a":1}'
    stamp = int(time.time())
    good = webhook_signature(secret="s", timestamp=stamp, body=body)
    assert webhook_signature_valid(secret="s", timestamp=stamp, body=body, signature=good)
    assert not webhook_signature_valid(secret="s", timestamp=stamp, body=b"{}", signature=good)
    old = stamp - 3600
    stale = webhook_signature(secret="s", timestamp=old, body=body)
    assert not webhook_signature_valid(secret="s", timestamp=old, body=body, signature=stale)


def test_the_webhook_api_registers_lists_and_logs(project, admin_user, receiver, allow_private):
    from rest_framework.test import APIClient

    from tests.factories import api_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(admin_user)}")
    target = receiver()

    created = client.post(
        f"/api/projects/{project.pk}/webhooks/",
        {"url": target.url, "events": ["task.completed"]},
        format="json",
    )
    assert created.status_code == 201 and len(created.json()["secret"]) == 64
    [delivery] = webhook_emit(project_id=project.pk, event="task.completed", payload={"task": 3})
    webhook_attempt(delivery_id=delivery.pk)

    endpoint_id = created.json()["id"]
    log = client.get(f"/api/webhooks/{endpoint_id}/deliveries/").json()
    assert log["count"] == 1 and log["results"][0]["status"] == "succeeded"
    assert "secret" not in client.get(f"/api/webhooks/{endpoint_id}/").json()
    assert client.delete(f"/api/webhooks/{endpoint_id}/").status_code == 204
    assert webhook_emit(project_id=project.pk, event="task.completed", payload={}) == []
    assert WebhookDelivery.objects.count() == 1
