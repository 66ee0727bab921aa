"""Domain events reach subscribers after the emitting transaction commits, never on rollback."""

import pytest
from django.db import transaction

from apps.core import events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    received: list[events.Event] = []

    def listener(event):
        received.append(event)

    events.subscribe(listener, names=[events.EventName.TASK_COMPLETED])
    yield received
    events.unsubscribe(listener)


def test_an_event_is_heard_only_after_its_transaction_commits(heard):
    with transaction.atomic():
        events.emit("task.completed", project_id=7, payload={"task": 1})
        assert heard == [], "nothing is heard while the transaction is open"
    assert [(e.name, e.project_id, e.payload) for e in heard] == [
        ("task.completed", 7, {"task": 1})
    ]


def test_an_event_of_a_rolled_back_transaction_is_never_heard(heard):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.emit("task.completed", project_id=7, payload={"task": 1})
        raise RuntimeError("the action failed")
    assert heard == []


def test_an_event_emitted_outside_a_transaction_is_heard_at_once(heard):
    events.emit("task.completed", project_id=None, payload={})
    assert len(heard) == 1


def test_a_listener_hears_only_the_events_it_subscribed_to(heard):
    events.emit("judgment.submitted", project_id=1, payload={})
    assert heard == []


def test_a_failing_subscriber_does_not_stop_the_others(heard):
    def broken(event):
        raise ValueError("bug in a subscriber")

    events.subscribe(broken, names=[events.ALL])
    try:
        events.emit("task.completed", project_id=1, payload={})
    finally:
        events.unsubscribe(broken)
    assert len(heard) == 1


def test_subscribing_twice_delivers_once(heard):
    events.subscribe(heard.append, names=["task.completed"])
    events.subscribe(heard.append, names=["task.completed"])
    try:
        events.emit("task.completed", project_id=1, payload={})
    finally:
        events.unsubscribe(heard.append)
    assert len(heard) == 2, "the fixture's listener and heard.append, once each"


def test_an_unknown_event_name_is_refused():
    with pytest.raises(ValueError):
        events.emit("task.exploded", project_id=1, payload={})
    with pytest.raises(ValueError):
        events.subscribe(print, names=["task.exploded"])
