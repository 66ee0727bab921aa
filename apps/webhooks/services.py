"""Webhooks: a project's events POSTed as signed JSON to the endpoints that subscribe to them.

Delivery is at least once: receivers dedupe by the `X-Arbiter-Delivery` id. Each request is
signed: `X-Arbiter-Signature: sha256=<hex>` is HMAC-SHA256 under the endpoint's secret of
`<X-Arbiter-Timestamp>.<body>`; receivers recompute it (see `webhook_signature_valid`) and
refuse old timestamps. Network errors, timeouts, 408, 429 and 5xx answers are retried with
growing delays (10 s, 40 s, 160 s, ... up to an hour, MAX_ATTEMPTS tries in all); any other
answer outside 2xx, or a target that resolves to a non-public address, fails the delivery at
once. Every attempt is logged on the delivery.

A delivery is a job (apps.core.jobs): each try is a claim under the row lock, its outcome
commits with the delivery's new state in one transaction, and a try whose worker died is sent
again by the reaper (the receiver may then see the same delivery id twice).
"""

import hashlib
import hmac
import http.client
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.core import prepared
from apps.core.errors import ApplicationError
from apps.core.events import Event
from apps.core.jobs import (
    JobStatus,
    crash_point,
    job_claim,
    job_enqueue,
    job_fail,
    job_finishing,
    job_succeed,
    job_transition,
)
from apps.core.outbound import Target, UnsafeTarget, post, resolve_target
from apps.projects.models import Project
from apps.webhooks.models import (
    DELIVERY_MAX_ATTEMPTS,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

MAX_ATTEMPTS = DELIVERY_MAX_ATTEMPTS
BACKOFF_BASE_S = 10
BACKOFF_MAX_S = 3600
TIMEOUT_S = 10.0
MAX_LOG_ENTRIES = 20
RETRY_STATUSES = frozenset({408, 429})
SIGNATURE_TOLERANCE_S = 300


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_signature_valid(
    *,
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - stamp) > tolerance_s:
        return False
    expected = webhook_signature(secret=secret, timestamp=stamp, body=body)
    return hmac.compare_digest(expected, signature or "")


def backoff_seconds(attempts: int) -> int:
    """Delay before the next try after `attempts` failed ones: 10 s, 40 s, 160 s, ..., 1 h."""
    return min(BACKOFF_BASE_S * 4 ** max(attempts - 1, 0), BACKOFF_MAX_S)


def _check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if not events or unknown:
        raise ApplicationError(
            f"events must name at least one of {', '.join(WebhookEvent.values)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + "."
        )
    return sorted(set(events))


def receiver_target(url: str) -> Target:
    """The receiver's checked address, pinned for the request (apps/core/outbound.py), or
    UnsafeTarget saying why not. The deprecated ARBITER_WEBHOOKS_ALLOW_PRIVATE still lets
    webhooks reach any address; ARBITER_OUTBOUND_ALLOW_HOSTS allows chosen ones."""
    return resolve_target(
        url,
        purpose="A webhook URL",
        allow_any_address=settings.ARBITER_WEBHOOKS_ALLOW_PRIVATE,
    )


def webhook_endpoint_create(
    *, project: Project, url: str, events: list[str], user: User | None
) -> WebhookEndpoint:
    """Registers a receiver. Its URL must resolve to public addresses (or ones the operator
    allows); that is checked now and again before every delivery."""
    events = _check_events(events)
    receiver_target(url)
    return WebhookEndpoint.objects.create(project=project, url=url, events=events, created_by=user)


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.is_active = False
    endpoint.save(update_fields=["is_active"])
    return endpoint


def webhook_emit(*, project_id: int, event: str, payload: dict) -> list[WebhookDelivery]:
    """Records one delivery per active endpoint of the project subscribed to `event`, and
    queues each once the surrounding transaction commits (nothing is sent for a rollback).
    A project without such endpoints costs one query and no transaction."""
    if event not in WebhookEvent.values:
        raise ApplicationError(_("Unknown webhook event %(event)r.") % {"event": event})
    # A plain statement: this runs after every judgment, where compiling the ORM query cost
    # more than running it.
    with connection.cursor() as cursor:
        prepared.execute(cursor, _ENDPOINTS, [project_id])
        wanted = [pk for pk, events in cursor.fetchall() if event in _json(events)]
    if not wanted:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(pk__in=wanted))
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint=e, event=event, payload=payload) for e in endpoints]
        )
        for delivery in deliveries:
            job_enqueue(delivery)
    return deliveries


_ENDPOINTS = prepared.Statement(
    f"SELECT id, events FROM {WebhookEndpoint._meta.db_table} WHERE project_id = %s AND is_active"
)


def _json(value):
    """A JSON column's value as the cursor gives it: text on PostgreSQL and SQLite."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def webhooks_on_event(event: Event) -> None:
    """The domain-event subscriber: the event's project's endpoints that want it get a delivery."""
    if event.project_id is not None:
        webhook_emit(project_id=event.project_id, event=event.name, payload=event.payload)


def webhook_body(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "project": delivery.endpoint.project_id,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Outcome:
    status: int | None  # the receiver's HTTP status; None when no answer came
    error: str
    retry: bool  # the same request may succeed later


def _post(delivery: WebhookDelivery) -> _Outcome:
    """One signed POST of the delivery to its endpoint (outside any transaction)."""
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        return _Outcome(None, "the endpoint was deactivated", retry=False)
    body = webhook_body(delivery)
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Arbiter-Webhooks/1",
        "X-Arbiter-Event": delivery.event,
        "X-Arbiter-Delivery": str(delivery.event_id),
        "X-Arbiter-Timestamp": str(stamp),
        "X-Arbiter-Signature": webhook_signature(
            secret=endpoint.secret, timestamp=stamp, body=body
        ),
    }
    try:
        status = post(receiver_target(endpoint.url), body, headers, timeout=TIMEOUT_S)
    except UnsafeTarget as exc:
        return _Outcome(None, exc.message, retry=False)
    except OSError as exc:  # the system's words ("Connection refused")
        return _Outcome(None, f"{type(exc).__name__}: {exc}"[:500], retry=True)
    except http.client.HTTPException as exc:  # may quote what the target sent: name it only
        return _Outcome(None, f"{type(exc).__name__}: not an HTTP answer", retry=True)
    if 200 <= status < 300:
        return _Outcome(status, "", retry=False)
    return _Outcome(status, f"HTTP {status}", retry=status >= 500 or status in RETRY_STATUSES)


def webhook_attempt(*, delivery_id: int, worker: str = "inline") -> WebhookDelivery | None:
    """Tries the delivery once if it is queued and due (None when it is gone). The try is a job
    claim (one attempt; refused while another worker holds it); its outcome and the log entry
    commit with the delivery's next state: `succeeded` on a 2xx, `queued` again (due after a
    growing delay) when the answer may change and tries remain, `failed` with the reason
    otherwise. A delivery found finished, not yet due, or held by a live worker is returned
    unchanged."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.is_finished:
        return delivery
    now = timezone.now()
    if delivery.status == JobStatus.QUEUED and (delivery.next_attempt_at or now) > now:
        return delivery
    claimed = job_claim(WebhookDelivery, delivery_id, worker=worker)
    if claimed is None:
        return WebhookDelivery.objects.filter(pk=delivery_id).first()
    started = time.monotonic()
    outcome = _post(WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id))
    crash_point("webhook.posted")
    with job_finishing(claimed) as delivery:
        if delivery is None:  # another worker took it over meanwhile
            return WebhookDelivery.objects.filter(pk=delivery_id).first()
        now = timezone.now()
        entry = {
            "at": now.isoformat(),
            "status": outcome.status,
            "error": outcome.error,
            "ms": int((time.monotonic() - started) * 1000),
        }
        fields = {
            "response_status": outcome.status,
            "log": [*delivery.log, entry][-MAX_LOG_ENTRIES:],
            "next_attempt_at": None,
        }
        if outcome.status is not None and not outcome.error:
            job_succeed(delivery, delivered_at=now, **fields)
        elif outcome.retry and delivery.attempts < delivery.max_attempts:
            due = now + timedelta(seconds=backoff_seconds(delivery.attempts))
            # Back to the queue, due later: queued_at is the due time, so the reaper resends it
            # only if it is still waiting well after then (its scheduled message was lost).
            job_transition(
                delivery,
                JobStatus.QUEUED,
                error=outcome.error,
                **{**fields, "next_attempt_at": due},
                queued_at=due,
            )
        else:
            job_fail(delivery, outcome.error, **fields)
    return delivery


def webhook_deliver(*, delivery_id: int, worker: str) -> datetime | None:
    """What the delivery task does: one try (`webhook_attempt`). Returns when the next try is
    due if this try put the delivery back in the queue, else None — a message that came early
    or twice schedules nothing, so repeats never multiply."""
    before = (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).first()
    )
    delivery = webhook_attempt(delivery_id=delivery_id, worker=worker)
    if delivery is None or delivery.status != JobStatus.QUEUED or delivery.attempts == before:
        return None
    return delivery.next_attempt_at
