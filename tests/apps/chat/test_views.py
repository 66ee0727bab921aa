from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.chat.models import Conversation, Message, Reaction
from apps.core.crypto import decrypt_secret
from apps.generation.models import ModelEndpoint
from apps.projects.models import FeedbackKind
from tests.apps.chat.conftest import answered
from tests.apps.generation.openai_server import Step
from tests.factories import ProjectFactory, UserFactory, add_member, api_token
from tests.models_offered import offer, unloaded_model

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def chatter_client(client, chatter):
    client.force_login(chatter)
    return client


def test_the_chat_home_lists_only_my_conversations_and_starts_a_new_one(
    chatter_client, chat_project, chatter
):
    other = add_member(chat_project, UserFactory())
    theirs = Conversation.objects.create(project=chat_project, user=other)
    Message.objects.create(conversation=theirs, index=0, role="user", content="their secret")
    home = reverse("chat:home", args=[chat_project.pk])
    assert "their secret" not in chatter_client.get(home).content.decode()

    answer = chatter_client.post(reverse("chat:new", args=[chat_project.pk]))
    mine = Conversation.objects.get(user=chatter)
    assert answer.status_code == 302 and answer.url == reverse("chat:conversation", args=[mine.pk])


def test_chat_pages_of_a_project_of_another_kind_are_not_found(client, chatter):
    labeling = ProjectFactory(kind=FeedbackKind.PAIRWISE)
    add_member(labeling, chatter)
    client.force_login(chatter)
    assert client.get(reverse("chat:home", args=[labeling.pk])).status_code == 404


def test_sending_over_htmx_shows_the_pending_reply_which_polls_until_a_worker_wrote_it(
    chatter_client, conversation, llm
):
    llm.then(Step(reply="**Paris**, of course."))
    answer = chatter_client.post(
        reverse("chat:send", args=[conversation.pk]), {"content": "Capital of France?"}, **HTMX
    )
    body = answer.content.decode()
    reply = conversation.messages.get(role="assistant")
    poll = reverse("chat:reply", args=[reply.pk])
    assert answer.status_code == 200 and "<html" not in body
    assert "Capital of France?" in body and 'data-status="pending"' in body
    assert f'hx-get="{poll}"' in body and "Paris" not in body
    assert 'id="send-button" disabled' in body
    assert chatter_client.get(poll, **HTMX).content.decode().count(f'hx-get="{poll}"') == 1

    answered(reply)
    body = chatter_client.get(poll, **HTMX).content.decode()
    assert "<strong>Paris</strong>, of course." in body and "hx-get" not in body
    assert 'aria-label="Love"' in body and 'aria-pressed="false"' in body
    assert 'id="send-button" hx-swap-oob="true"' in body


def test_a_reply_whose_worker_went_silent_offers_to_ask_again(
    chatter_client, conversation, settings
):
    settings.ARBITER_CHAT_REPLY_STALE_SECONDS = 60
    chatter_client.post(reverse("chat:send", args=[conversation.pk]), {"content": "Hi"})
    reply = conversation.messages.get(role="assistant")
    Message.objects.filter(pk=reply.pk).update(requested_at=timezone.now() - timedelta(minutes=5))

    body = chatter_client.get(reverse("chat:reply", args=[reply.pk]), **HTMX).content.decode()

    assert "never finished" in body and "data-retry" in body and "hx-get" not in body


def test_the_message_past_the_per_minute_limit_is_answered_429_with_the_reason(
    chatter_client, conversation, settings
):
    settings.ARBITER_CHAT_MESSAGES_PER_MINUTE = 1
    chatter_client.post(reverse("chat:send", args=[conversation.pk]), {"content": "Hi"})
    answered(conversation.messages.get(role="assistant"))

    answer = chatter_client.post(
        reverse("chat:send", args=[conversation.pk]), {"content": "Again"}, **HTMX
    )

    assert answer.status_code == 429
    assert "at most 1 messages a minute" in answer.content.decode()
    assert conversation.messages.count() == 2


def test_a_backend_error_shows_a_message_and_a_retry_button(chatter_client, conversation, llm):
    llm.then(Step(status=500, body="overloaded"), Step(status=500, body="overloaded"))
    chatter_client.post(reverse("chat:send", args=[conversation.pk]), {"content": "Hello?"})
    answered(conversation.messages.get(role="assistant"))
    body = chatter_client.get(reverse("chat:conversation", args=[conversation.pk]), **HTMX)
    body = body.content.decode()
    assert "The model could not answer" in body and "HTTP 500 Internal Server Error" in body
    assert "overloaded" not in body  # the server's own words are never shown
    assert "data-retry" in body
    assert list(conversation.messages.values_list("role", flat=True)) == ["user", "assistant"]

    body = chatter_client.post(
        reverse("chat:retry", args=[conversation.pk]), **HTMX
    ).content.decode()
    assert 'data-status="pending"' in body and "could not answer" not in body
    assert answered(conversation.messages.get(role="assistant")).content == "You said: Hello?"


def test_model_and_user_text_render_inert(chatter_client, conversation, llm):
    llm.then(Step(reply="<img src=x onerror=alert(1)><script>alert(2)</script>"))
    chatter_client.post(
        reverse("chat:send", args=[conversation.pk]), {"content": "<b onclick=x>hi</b>"}
    )
    answered(conversation.messages.get(role="assistant"))
    body = chatter_client.get(reverse("chat:conversation", args=[conversation.pk])).content
    body = body.decode()
    assert "<script>alert" not in body and "<img" not in body and "<b onclick" not in body
    assert "&lt;b onclick=x&gt;hi&lt;/b&gt;" in body


def test_an_empty_message_is_answered_422_with_the_transcript(chatter_client, conversation):
    answer = chatter_client.post(
        reverse("chat:send", args=[conversation.pk]), {"content": " "}, **HTMX
    )
    assert answer.status_code == 422 and "Write a message first." in answer.content.decode()


def test_reacting_swaps_the_buttons_and_the_pressed_one_removes(chatter_client, conversation):
    chatter_client.post(reverse("chat:send", args=[conversation.pk]), {"content": "Hi"})
    reply = answered(conversation.messages.get(role="assistant"))
    url = reverse("chat:react", args=[reply.pk])

    body = chatter_client.post(url, {"kind": "love"}, **HTMX).content.decode()
    assert 'data-current="love"' in body
    assert f'name="kind" value="" id="react-{reply.pk}-love"' in body
    chatter_client.post(url, {"kind": "laugh"}, **HTMX)
    assert Reaction.objects.get().kind == "laugh"
    chatter_client.post(url, {"kind": ""}, **HTMX)
    assert not Reaction.objects.exists()


def test_reacting_to_another_users_reply_is_404_and_stores_nothing(
    client, conversation, chatter, chat_project
):
    client.force_login(chatter)
    client.post(reverse("chat:send", args=[conversation.pk]), {"content": "Hi"})
    reply = answered(conversation.messages.get(role="assistant"))
    stranger = add_member(chat_project, UserFactory())
    client.force_login(stranger)
    answer = client.post(reverse("chat:react", args=[reply.pk]), {"kind": "angry"}, **HTMX)
    assert answer.status_code == 404
    assert client.get(reverse("chat:conversation", args=[conversation.pk])).status_code == 404
    assert client.get(reverse("chat:reply", args=[reply.pk]), **HTMX).status_code == 404
    assert not Reaction.objects.exists()


def test_only_admins_open_the_backend_settings(client, chat_project, chatter):
    client.force_login(chatter)
    assert client.get(reverse("chat:settings", args=[chat_project.pk])).status_code == 404


def test_admins_save_a_backend_and_the_api_key_is_kept_encrypted_but_never_shown(
    client, chat_project, chat_admin, settings
):
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:8001", "127.0.0.1:8002"]
    client.force_login(chat_admin)
    url = reverse("chat:settings", args=[chat_project.pk])
    form = {
        "type": "openai",
        "model": "llama-3-8b",
        "base_url": "http://127.0.0.1:8001/v1",
        "api_key": "sk-secret",
        "max_tokens": "200",
        "temperature": "0.5",
    }
    assert client.post(url, form).status_code == 302
    chat_project.refresh_from_db()
    endpoint = ModelEndpoint.objects.get(project=chat_project, base_url=form["base_url"])
    assert chat_project.generation_backend == {
        "type": "openai",
        "model": "llama-3-8b",
        "endpoint": endpoint.pk,  # the URL and the key live in the endpoint row
        "max_tokens": 200,
        "temperature": 0.5,
        "max_retries": 1,  # kept from before: the form does not show it
        "backoff": 0.01,
    }
    assert "sk-secret" not in endpoint.api_key_encrypted
    assert decrypt_secret(endpoint.api_key_encrypted) == "sk-secret"
    page = client.get(url).content.decode()
    assert "sk-secret" not in page and "A key is stored." in page

    client.post(url, {**form, "api_key": "", "model": "llama-3-70b"})
    chat_project.refresh_from_db()
    assert chat_project.generation_backend["model"] == "llama-3-70b"
    assert chat_project.generation_backend["endpoint"] == endpoint.pk
    endpoint.refresh_from_db()
    assert endpoint.has_api_key, "the same URL keeps its key"

    # Another URL never gets the key: a co-admin cannot send it to a server of their own.
    client.post(url, {**form, "api_key": "", "base_url": "http://127.0.0.1:8002/v1"})
    chat_project.refresh_from_db()
    moved = ModelEndpoint.objects.get(pk=chat_project.generation_backend["endpoint"])
    assert moved.base_url == "http://127.0.0.1:8002/v1" and not moved.has_api_key
    assert "A key is stored." not in client.get(url).content.decode()


def test_a_bad_backend_is_refused_with_its_reason(client, chat_project, chat_admin):
    client.force_login(chat_admin)
    before = chat_project.generation_backend
    answer = client.post(
        reverse("chat:settings", args=[chat_project.pk]), {"type": "openai", "model": "m"}
    )
    assert answer.status_code == 422 and "needs a `base_url`" in answer.content.decode()
    chat_project.refresh_from_db()
    assert chat_project.generation_backend == before


def test_a_local_model_is_configured_with_max_new_tokens(
    client, chat_project, chat_admin, settings, tmp_path
):
    tiny = offer(settings, unloaded_model(tmp_path / "models" / "tiny"))
    client.force_login(chat_admin)
    client.post(
        reverse("chat:settings", args=[chat_project.pk]),
        {"type": "transformers", "local_model": tiny, "max_tokens": "64", "device": "cpu"},
    )
    chat_project.refresh_from_db()
    assert chat_project.generation_backend == {
        "type": "transformers",
        "model": tiny,
        "device": "cpu",
        "max_new_tokens": 64,
    }


def test_the_api_sends_reads_and_reacts(conversation, chatter, chat_project):
    api = APIClient()
    label_token = api_token(chatter, scope="label")
    api.credentials(HTTP_AUTHORIZATION=f"Token {label_token}")
    sent = api.post(
        f"/api/chat/conversations/{conversation.pk}/messages/", {"content": "Hi"}, format="json"
    )
    assert sent.status_code == 201 and (sent.data["status"], sent.data["content"]) == (
        "pending",
        "",
    )
    answered(Message.objects.get(pk=sent.data["id"]))
    url = f"/api/chat/messages/{sent.data['id']}/reaction/"
    assert api.put(url, {"kind": "thumbs_up"}, format="json").data == {"kind": "thumbs_up"}
    read = api.get(f"/api/chat/conversations/{conversation.pk}/").data
    assert [(m["role"], m["status"], m["reaction"]) for m in read["messages"]] == [
        ("user", "done", None),
        ("assistant", "done", "thumbs_up"),
    ]
    assert api.delete(url).status_code == 204 and not Reaction.objects.exists()

    stranger = add_member(chat_project, UserFactory())
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(stranger)}")
    assert api.put(url, {"kind": "sad"}, format="json").status_code == 404
    assert not Reaction.objects.exists()


def test_the_api_answers_429_with_retry_after_past_the_per_minute_limit(
    chat_project, chatter, settings
):
    settings.ARBITER_CHAT_MESSAGES_PER_MINUTE = 1
    first, second = (Conversation.objects.create(project=chat_project, user=chatter) for _ in "ab")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(chatter, scope='label')}")
    url = "/api/chat/conversations/{}/messages/"
    assert api.post(url.format(first.pk), {"content": "Hi"}, format="json").status_code == 201

    refused = api.post(url.format(second.pk), {"content": "Hi"}, format="json")

    assert refused.status_code == 429 and "at most 1 messages a minute" in refused.data["detail"]
    assert refused["Retry-After"] == str(refused.data["retry_after"])
    assert not second.messages.exists()
