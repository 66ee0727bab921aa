"""Replies written by a real Celery worker process, the web request long gone."""

import re
import time

import pytest
from django.urls import reverse

from apps.chat.models import Message
from apps.chat.services import message_send
from apps.chat.tasks import generate_reply
from tests.apps.generation.openai_server import Step

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HTMX = {"HTTP_HX_REQUEST": "true"}


def _wait_until(condition, *, timeout: float = 60, what: str = "the worker"):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}.")
        time.sleep(0.2)
    return result


def test_a_worker_writes_the_reply_after_the_send_request_has_returned(
    client, conversation, chatter, llm, start_worker
):
    llm.then(Step(reply="Slowly **but surely**.", delay=3))
    conversation.project.generation_backend["timeout"] = 30
    conversation.project.save()
    start_worker("default", name="chat")
    client.force_login(chatter)

    answer = client.post(reverse("chat:send", args=[conversation.pk]), {"content": "Hi"}, **HTMX)

    # The page came back while the model was still writing (it takes 3 s to answer).
    reply = conversation.messages.get(role="assistant")
    body = answer.content.decode()
    assert answer.status_code == 200 and "msg-answering" in body  # pending, or just claimed
    assert "surely" not in body and reply.status in ("pending", "running")
    done = _wait_until(
        lambda: Message.objects.filter(pk=reply.pk, status="done").first(), what="the reply"
    )
    assert (done.content, done.model_name) == ("Slowly **but surely**.", "fake-chat")
    assert len(llm.requests) == 1
    polled = client.get(reverse("chat:reply", args=[reply.pk]), **HTMX).content.decode()
    assert "<strong>but surely</strong>" in polled


def test_a_reply_task_delivered_twice_asks_the_model_once(conversation, chatter, llm, start_worker):
    reply = message_send(user=chatter, conversation_id=conversation.pk, content="Hi")
    generate_reply.delay(reply.pk)  # the same message again, as after a lost acknowledgement

    worker = start_worker("default", name="chat-twice")

    finished = re.compile(r"chat\.generate_reply\[[^\]]+\] succeeded in .*: '(\w+)'")
    _wait_until(lambda: len(finished.findall(worker.log())) == 2, what="both deliveries")
    assert finished.findall(worker.log()) == ["done", "done"]
    assert len(llm.requests) == 1
    assert list(conversation.messages.values_list("role", "status", "content")) == [
        ("user", "done", "Hi"),
        ("assistant", "done", "You said: Hi"),
    ]
