"""Double clicks and parallel tabs, on PostgreSQL, with real threads and connections."""

import threading

import pytest
from django.db import connection

from apps.chat.models import Message, Reaction, ReactionKind
from apps.chat.services import message_send, reaction_set
from apps.core.errors import Conflict
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
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")
    kinds = list(ReactionKind.values) * 2

    _, errors = _in_threads(
        lambda kind: reaction_set(user=chatter, message_id=reply.pk, kind=kind),
        [(kind,) for kind in kinds],
    )

    assert not errors, errors
    assert Reaction.objects.filter(message=reply).count() == 1
    assert Reaction.objects.get().kind in kinds


def test_a_double_send_stores_one_message_and_one_reply(conversation, chatter, llm):
    llm.then(Step(reply="Only once.", delay=0.3))

    results, errors = _in_threads(
        lambda: message_send(user=chatter, conversation_id=conversation.pk, content="Hello"),
        [()] * 4,
    )

    assert [r.content for r in results] == ["Only once."]
    assert len(errors) == 3 and all(isinstance(e, Conflict) for e in errors), errors
    assert list(Message.objects.values_list("role", "content")) == [
        ("user", "Hello"),
        ("assistant", "Only once."),
    ]
    assert len(llm.requests) == 1
