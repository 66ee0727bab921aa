"""Domain events: a lower layer says that something happened; whoever cares listens.

An action calls `emit(...)` inside its transaction; subscribers hear the event only once that
transaction commits, and never for a rollback (Zulip's `send_event` after its `do_*` actions).
The emitter never imports its listeners: each subscribing app registers its handlers in its
`AppConfig.ready()` with `subscribe`. A subscriber that raises is logged and does not disturb the
action (it has committed already) nor the other subscribers.

Delivery to subscribers is in-process and after commit: a process that dies between the commit
and the callback loses the event (at most once). Subscribers that need more record their own work
durably (webhooks write a delivery row, a job the reaper finishes).
"""

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.db import models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class EventName(models.TextChoices):
    """Every event the app emits. Later work adds its own here (e.g. rule.fired,
    model.promoted); webhooks offer every name in this list to their endpoints."""

    JUDGMENT_SUBMITTED = "judgment.submitted", "A judgment was submitted"
    TASK_COMPLETED = "task.completed", "A task reached its overlap"
    RUN_FINISHED = "run.finished", "A training run finished"
    JOB_FINISHED = "job.finished", "A background job succeeded, failed or was cancelled"
    RULE_FIRED = "rule.fired", "A training rule launched a run"
    MODEL_PROMOTED = "model.promoted", "A run became the project's champion model"


@dataclass(frozen=True)
class Event:
    name: str
    project_id: int | None
    payload: dict
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=timezone.now)


Subscriber = Callable[[Event], None]
ALL = "*"

_subscribers: dict[str, list[Subscriber]] = {}


def subscribe(handler: Subscriber, *, names: Iterable[str] = (ALL,)) -> Subscriber:
    """Calls `handler(event)` after commit for every event named in `names` (`ALL` for every
    event). Registering the same handler twice is harmless (`ready()` may run more than once)."""
    for name in names:
        if name != ALL:
            EventName(name)
        handlers = _subscribers.setdefault(name, [])
        if handler not in handlers:
            handlers.append(handler)
    return handler


def unsubscribe(handler: Subscriber) -> None:
    for handlers in _subscribers.values():
        if handler in handlers:
            handlers.remove(handler)


def emit(name: str, *, project_id: int | None, payload: dict, using: str | None = None) -> Event:
    """Hands the event to its subscribers once the current transaction commits (at once when
    no transaction is open). An unknown name is a programming error: ValueError."""
    event = Event(name=EventName(name).value, project_id=project_id, payload=payload)
    transaction.on_commit(partial(_dispatch, event), using=using)
    return event


def _dispatch(event: Event) -> None:
    for handler in [*_subscribers.get(event.name, ()), *_subscribers.get(ALL, ())]:
        try:
            handler(event)
        except Exception:
            logger.exception("Subscriber %r failed on event %s (%s)", handler, event.name, event.id)
