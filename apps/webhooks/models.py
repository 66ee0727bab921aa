"""Webhooks: a project's domain events POSTed as signed JSON to the endpoints that subscribe."""

import secrets
import uuid

from django.conf import settings
from django.db import models

from apps.core.events import EventName
from apps.core.jobs import Job

# An endpoint subscribes to any domain event; a new event needs no change here.
WebhookEvent = EventName


def new_secret() -> str:
    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """A URL that receives a project's events as signed JSON POSTs."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(help_text="Event names this endpoint receives.")
    secret = models.CharField(max_length=128, default=new_secret)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Webhook {self.pk} → {self.url}"


# Tries before a delivery fails for good (network errors, timeouts, 408, 429 and 5xx are retried).
DELIVERY_MAX_ATTEMPTS = 6


class WebhookDelivery(Job):
    """One event sent (or being sent) to one endpoint, with the log of every attempt. A job:
    each try is a claim; a try that may succeed later puts it back in the queue, due at
    `next_attempt_at`; `error` holds the last try's failure."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # No choices: the list of events grows without a migration; services check the name.
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    payload = models.JSONField()
    max_attempts = models.PositiveSmallIntegerField(
        default=DELIVERY_MAX_ATTEMPTS, help_text="Tries allowed before it fails for good."
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    log = models.JSONField(
        default=list, help_text='[{"at": ..., "status": 200, "error": "", "ms": 12}]'
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    # A delivery's end is not itself an event (it would be delivered, and so on without end).
    announces_finish = False

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "queued_at"], name="delivery_status_queued_idx")]

    def __str__(self) -> str:
        return f"{self.event} → endpoint {self.endpoint_id} ({self.status})"
