from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from apps.chat.models import Conversation, Message, Reaction, ReactionKind
from apps.chat.services import (
    _reply_store,  # a worker that outlived its claim, replayed
    chat_backend_configure,
    conversation_start,
    message_retry,
    message_send,
    reaction_set,
    reply_generate,
)
from apps.core.errors import ApplicationError, Conflict, PermissionDenied, RateLimited
from tests.apps.chat.conftest import answered, backend_config
from tests.apps.generation.openai_server import Step
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.models_offered import offer, unloaded_model

pytestmark = pytest.mark.django_db


def test_a_conversation_keeps_the_backend_it_started_with_without_secrets(chat_project, chatter):
    chat_project.generation_backend["api_key"] = "sk-secret"
    chat_project.save()
    conversation = conversation_start(user=chatter, project=chat_project)
    assert conversation.backend["model"] == "fake-chat"
    assert "api_key" not in conversation.backend


def test_starting_twice_reuses_the_untouched_conversation(chat_project, chatter):
    first = conversation_start(user=chatter, project=chat_project)
    assert conversation_start(user=chatter, project=chat_project) == first
    message_send(user=chatter, conversation_id=first.pk, content="Hi")
    assert conversation_start(user=chatter, project=chat_project) != first


def test_a_conversation_cannot_start_without_a_backend_or_outside_a_chat_project(chatter):
    unconfigured = ProjectFactory(kind="chat", generation_backend={})
    with pytest.raises(ApplicationError, match="not set up yet"):
        conversation_start(user=chatter, project=unconfigured)
    with pytest.raises(ApplicationError, match="Only chat projects"):
        conversation_start(user=chatter, project=ProjectFactory(kind="pairwise"))


def test_sending_stores_the_message_and_the_reply_with_the_whole_history(
    conversation, chatter, llm
):
    llm.then(Step(reply="Paris."), Step(reply="About 2.1 million."))
    answered(
        message_send(user=chatter, conversation_id=conversation.pk, content=" Capital of France? ")
    )
    reply = answered(
        message_send(user=chatter, conversation_id=conversation.pk, content="Population?")
    )

    assert (reply.role, reply.content, reply.model_name, reply.error) == (
        "assistant",
        "About 2.1 million.",
        "fake-chat",
        "",
    )
    assert list(conversation.messages.values_list("index", "role", "content")) == [
        (0, "user", "Capital of France?"),
        (1, "assistant", "Paris."),
        (2, "user", "Population?"),
        (3, "assistant", "About 2.1 million."),
    ]
    assert llm.requests[1]["json"]["messages"] == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]


def test_a_reply_holding_nul_or_a_lone_surrogate_is_stored_without_them(conversation, chatter, llm):
    """PostgreSQL refuses NUL in text, and UTF-8 cannot encode a lone surrogate."""
    llm.then(Step(reply="Par\x00is\ud800."))
    reply = answered(
        message_send(user=chatter, conversation_id=conversation.pk, content="Capital?")
    )

    assert (reply.status, reply.error) == ("done", "")
    reply.refresh_from_db()
    assert reply.content == "Paris\ufffd."


def test_a_backend_error_keeps_the_users_message_and_stores_the_failed_turn(
    conversation, chatter, llm
):
    llm.then(Step(status=500, body="boom"), Step(status=500, body="boom"))
    reply = answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hello?"))

    assert list(conversation.messages.values_list("role", "content")) == [
        ("user", "Hello?"),
        ("assistant", ""),
    ]
    assert reply.role == "assistant"
    assert "failed after 2 attempts: HTTP 500 Internal Server Error" in reply.error
    assert "boom" not in reply.error  # the server's own words are never shown


def test_after_a_failure_the_user_retries_and_the_failed_turn_is_answered_in_place(
    conversation, chatter, llm
):
    llm.then(Step(status=503, body="down"), Step(status=503, body="down"), Step(reply="Hi!"))
    failed = answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hello?"))
    with pytest.raises(Conflict, match="retry it"):
        message_send(user=chatter, conversation_id=conversation.pk, content="Anyone?")

    again = answered(message_retry(user=chatter, conversation_id=conversation.pk))

    assert again.pk == failed.pk
    assert (again.content, again.error, again.status) == ("Hi!", "", "done")
    assert conversation.messages.count() == 2
    with pytest.raises(Conflict, match="no failed reply"):
        message_retry(user=chatter, conversation_id=conversation.pk)


def test_a_reply_cut_off_before_it_was_stored_can_be_asked_for_again(conversation, chatter):
    Message.objects.create(conversation=conversation, index=0, role="user", content="Still there?")
    with pytest.raises(Conflict, match="not answered"):
        message_send(user=chatter, conversation_id=conversation.pk, content="Hello??")
    reply = answered(message_retry(user=chatter, conversation_id=conversation.pk))
    assert (reply.index, reply.content) == (1, "You said: Still there?")


def test_a_misconfigured_backend_is_reported_in_the_failed_turn(conversation, chatter):
    conversation.project.generation_backend = {"type": "openai", "model": "m"}
    conversation.project.save()
    reply = answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hi"))
    assert "misconfigured" in reply.error and "base_url" in reply.error


def test_an_empty_message_is_refused_and_nothing_is_stored(conversation, chatter):
    with pytest.raises(ApplicationError, match="Write a message"):
        message_send(user=chatter, conversation_id=conversation.pk, content="   ")
    assert not Message.objects.exists()


def test_another_users_conversation_is_not_found(conversation, chat_project):
    stranger = add_member(chat_project, UserFactory())
    with pytest.raises(Http404):
        message_send(user=stranger, conversation_id=conversation.pk, content="Hi")
    assert not Message.objects.exists()


def _reply(conversation, chatter) -> Message:
    return answered(message_send(user=chatter, conversation_id=conversation.pk, content="Hello"))


def test_changing_a_reaction_replaces_the_old_one(conversation, chatter):
    reply = _reply(conversation, chatter)
    reaction_set(user=chatter, message_id=reply.pk, kind=ReactionKind.LOVE)
    reaction_set(user=chatter, message_id=reply.pk, kind=ReactionKind.THUMBS_DOWN)
    assert list(Reaction.objects.values_list("message_id", "user_id", "kind")) == [
        (reply.pk, chatter.pk, "thumbs_down")
    ]


def test_an_empty_kind_removes_the_reaction(conversation, chatter):
    reply = _reply(conversation, chatter)
    reaction_set(user=chatter, message_id=reply.pk, kind=ReactionKind.LAUGH)
    assert reaction_set(user=chatter, message_id=reply.pk, kind="") is None
    assert not Reaction.objects.exists()


def test_a_reaction_on_another_users_message_is_not_found_and_stores_nothing(
    conversation, chatter, chat_project
):
    reply = _reply(conversation, chatter)
    stranger = add_member(chat_project, UserFactory())
    with pytest.raises(Http404):
        reaction_set(user=stranger, message_id=reply.pk, kind=ReactionKind.ANGRY)
    assert not Reaction.objects.exists()


def test_a_member_who_left_the_project_can_no_longer_react(conversation, chatter):
    reply = _reply(conversation, chatter)
    conversation.project.memberships.filter(user=chatter).delete()
    with pytest.raises(Http404):
        reaction_set(user=chatter, message_id=reply.pk, kind=ReactionKind.LOVE)


def test_only_the_models_successful_replies_take_reactions(conversation, chatter, llm):
    llm.then(Step(status=500, body="x"), Step(status=500, body="x"))
    failed = _reply(conversation, chatter)
    mine = conversation.messages.get(role="user")
    for message in (mine, failed):
        with pytest.raises(ApplicationError, match="Only the model's replies"):
            reaction_set(user=chatter, message_id=message.pk, kind=ReactionKind.LOVE)
    with pytest.raises(ApplicationError, match="Unknown reaction"):
        reaction_set(user=chatter, message_id=failed.pk, kind="shrug")
    assert not Reaction.objects.exists()


def test_admins_set_the_backend_and_bad_configs_are_refused(
    chat_project, chat_admin, chatter, settings, tmp_path
):
    tiny = offer(settings, unloaded_model(tmp_path / "models" / "tiny"))
    with pytest.raises(PermissionDenied):
        chat_backend_configure(
            project=chat_project, actor=chatter, config={"type": "transformers", "model": "/m"}
        )
    with pytest.raises(ApplicationError, match="Unknown backend type"):
        chat_backend_configure(project=chat_project, actor=chat_admin, config={"type": "x"})
    chat_backend_configure(
        project=chat_project,
        actor=chat_admin,
        config={"type": "transformers", "model": f" {tiny} ", "max_new_tokens": 64},
    )
    chat_project.refresh_from_db()
    assert chat_project.generation_backend == {
        "type": "transformers",
        "model": tiny,
        "max_new_tokens": 64,
    }


def test_a_fixed_backend_answers_the_retry(conversation, chatter, llm, settings):
    # The operator allows the discard port too, where nothing listens.
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = [*settings.ARBITER_OUTBOUND_ALLOW_HOSTS, "127.0.0.1:9"]
    conversation.project.generation_backend = backend_config(llm, base_url="http://127.0.0.1:9/v1")
    conversation.project.save()
    failed = _reply(conversation, chatter)
    assert "could not reach the server" in failed.error
    conversation.project.generation_backend = backend_config(llm)
    conversation.project.save()
    again = answered(message_retry(user=chatter, conversation_id=conversation.pk))
    assert again.content == "You said: Hello"
    assert Conversation.objects.get().messages.filter(error="").count() == 2


def test_sending_queues_the_reply_for_a_worker_without_asking_the_model(
    conversation, chatter, llm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")

    assert (reply.role, reply.status, reply.content) == ("assistant", "pending", "")
    assert len(queued) == 1 and llm.requests == []
    assert answered(reply).content == "You said: Hi"


def test_a_second_delivery_of_the_reply_task_asks_the_model_once(conversation, chatter, llm):
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")

    first = reply_generate(message_id=reply.pk)
    second = reply_generate(message_id=reply.pk)

    assert (first.status, second.status, second.content) == ("done", "done", "You said: Hi")
    assert len(llm.requests) == 1
    assert list(conversation.messages.values_list("role", "status")) == [
        ("user", "done"),
        ("assistant", "done"),
    ]


def test_a_delivery_while_another_worker_writes_the_reply_does_nothing(conversation, chatter, llm):
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")
    Message.objects.filter(pk=reply.pk).update(status="running", attempt=1)

    assert reply_generate(message_id=reply.pk).status == "running"
    assert llm.requests == []


def test_a_worker_that_returns_after_its_reply_was_asked_again_stores_nothing(
    conversation, chatter, llm, settings
):
    settings.ARBITER_CHAT_REPLY_STALE_SECONDS = 60
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")
    long_ago = timezone.now() - timedelta(minutes=5)
    Message.objects.filter(pk=reply.pk).update(status="running", attempt=1, requested_at=long_ago)

    again = answered(message_retry(user=chatter, conversation_id=conversation.pk))
    late = _reply_store(
        message_id=reply.pk, attempt=1, content="Late answer", error="", model_name="old"
    )

    assert (again.attempt, again.content) == (2, "You said: Hi")
    assert (late.content, late.attempt) == ("You said: Hi", 2)


def test_a_reply_being_written_cannot_be_retried_until_it_is_stale(conversation, chatter, settings):
    settings.ARBITER_CHAT_REPLY_STALE_SECONDS = 60
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")
    with pytest.raises(Conflict, match="still answering"):
        message_retry(user=chatter, conversation_id=conversation.pk)
    with pytest.raises(Conflict, match="still answering"):
        message_send(user=chatter, conversation_id=conversation.pk, content="Hello?")

    Message.objects.filter(pk=reply.pk).update(requested_at=timezone.now() - timedelta(minutes=2))
    assert message_retry(user=chatter, conversation_id=conversation.pk).pk == reply.pk


def test_the_database_refuses_a_second_unfinished_reply_in_a_conversation(conversation, chatter):
    message_send(user=chatter, conversation_id=conversation.pk, content="Hi")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            conversation=conversation, index=5, role="assistant", status="running"
        )


def test_the_message_past_the_users_per_minute_limit_is_refused(
    chat_project, chatter, llm, settings
):
    settings.ARBITER_CHAT_MESSAGES_PER_MINUTE = 2
    conversations = [Conversation.objects.create(project=chat_project, user=chatter) for _ in "abc"]
    for conversation in conversations[:2]:
        message_send(user=chatter, conversation_id=conversation.pk, content="Hi")

    with pytest.raises(RateLimited, match="at most 2 messages a minute") as refused:
        message_send(user=chatter, conversation_id=conversations[2].pk, content="Hi")

    assert 1 <= refused.value.extra["retry_after"] <= 60
    assert not conversations[2].messages.exists()
    # Another user is not slowed down by this one.
    other = add_member(chat_project, UserFactory())
    theirs = Conversation.objects.create(project=chat_project, user=other)
    assert message_send(user=other, conversation_id=theirs.pk, content="Hi").status == "pending"
    # A minute later the user may write again.
    Message.objects.filter(role="user").update(created_at=timezone.now() - timedelta(seconds=61))
    assert message_send(user=chatter, conversation_id=conversations[2].pk, content="Hi")
