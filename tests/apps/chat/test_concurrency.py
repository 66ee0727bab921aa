"""Double clicks and parallel tabs, on PostgreSQL, with real threads and connections."""

import threading

import pytest
from django.db import connection

from apps.chat.models import Message, Reaction, ReactionKind
from apps.chat.services import message_send, reaction_set, reply_generate
from apps.core.errors import Conflict
from tests.apps.chat.conftest import answered
from tests.apps.generation.openai_server import Step

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_threads(target, args_list) -> tuple[list, list[BaseException]]:
    results, errors = [], []
    barrier = threading.Barrier(len(args_list))

    def runner(*args):
        try:
            barrier.wait()
            results.append(target(*args))
        except BaseException as exc:  # collected for the test to inspect
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=args) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_parallel_reactions_by_one_user_leave_exactly_one_row(conversation, chatter):
    reply = answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hi"))
    kinds = list(ReactionKind.values) * 2

    _, errors = _in_threads(
        lambda kind: reaction_set(user=chatter, message_id=reply.pk, kind=kind),
        [(kind,) for kind in kinds],
    )

    assert not errors, errors
    assert Reaction.objects.filter(message=reply).count() == 1
    assert Reaction.objects.get().kind in kinds


def test_a_double_send_stores_one_message_and_one_pending_reply(conversation, chatter, llm):
    results, errors = _in_threads(
        lambda: message_send(user=chatter, conversation_id=conversation.pk, content="Hello"),
        [()] * 4,
    )

    assert [r.status for r in results] == ["pending"]
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors
    assert list(Message.objects.values_list("role", "status")) == [
        ("user", "done"),
        ("assistant", "pending"),
    ]


def test_two_deliveries_at_once_ask_the_model_once(conversation, chatter, llm):
    llm.then(Step(reply="Only once.", delay=0.3))
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hello")

    _, errors = _in_threads(lambda: reply_generate(message_id=reply.pk), [()] * 4)

    assert not errors, errors
    assert len(llm.requests) == 1
    assert list(Message.objects.values_list("role", "status", "content")) == [
        ("user", "done", "Hello"),
        ("assistant", "done", "Only once."),
    ]
