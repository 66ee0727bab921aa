import pytest

from apps.chat.models import Conversation, Reaction
from apps.projects.models import FeedbackKind
from tests.apps.generation.openai_server import Step, openai_server
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_content_security import watch_for_violations
from tests.factories import PASSWORD, ProjectFactory, UserFactory, add_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def llm():
    with openai_server() as server:
        yield server


@pytest.fixture(autouse=True)
def chat_worker(start_worker, llm):
    """Replies are written by a worker, as in production. It starts once the model server runs,
    so that it inherits the operator's allow-list naming that server."""
    return start_worker("default", name="browser-chat")


@pytest.fixture
def chat_project(llm):
    return ProjectFactory(
        name="Live chat",
        kind=FeedbackKind.CHAT,
        generation_backend={
            "type": "openai",
            "base_url": llm.base_url,
            "model": "fake-chat",
            "timeout": 3,
            "max_retries": 1,
            "backoff": 0.01,
        },
    )


def _open_new_conversation(page, live_server, project, username):
    log_in(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/chat/")
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_selector("form.composer textarea")


def test_user_chats_reacts_and_changes_the_reaction(page, live_server, chat_project, llm):
    user = add_member(chat_project, UserFactory(username="chatter"))
    llm.then(Step(reply="Hello! **How** can I help?", delay=0.8))
    problems = watch_for_violations(page)  # the polling page stays within the CSP
    _open_new_conversation(page, live_server, chat_project, "chatter")

    page.fill("form.composer textarea", "Hi there <b>model</b>")
    page.keyboard.press("Enter")
    # At once: my message, stored, and the model's reply in the works; then the reply itself,
    # polled in when the worker has written it, and the composer ready for the next message.
    page.wait_for_selector("article.msg-answering .typing")
    assert page.get_by_role("button", name="Send").is_disabled()
    reply = page.locator("article.msg-assistant[data-status=done]")
    reply.get_by_text("How").wait_for()
    assert page.locator("article.msg-user").inner_text().strip().endswith("Hi there <b>model</b>")
    assert page.locator("article.msg-answering").count() == 0
    assert not page.locator("#typing").is_visible()
    page.get_by_role("button", name="Send").wait_for(state="visible")
    assert page.get_by_role("button", name="Send").is_enabled()
    screenshot(page, "chat")

    reply.get_by_role("button", name="Love").click()
    page.wait_for_selector("button[data-kind=love][aria-pressed=true]")
    assert list(Reaction.objects.values_list("user__username", "kind")) == [("chatter", "love")]

    # Keyboard: focus the reply, press 2 (thumbs up): the love reaction is replaced.
    reply.focus()
    page.keyboard.press("2")
    page.wait_for_selector("button[data-kind=thumbs_up][aria-pressed=true]")
    assert page.locator("button.reaction[aria-pressed=true]").count() == 1
    conversation = Conversation.objects.get(user=user)
    assistant = conversation.messages.get(role="assistant")
    assert list(Reaction.objects.values_list("message_id", "kind")) == [(assistant.pk, "thumbs_up")]
    assert list(conversation.messages.values_list("role", "content")) == [
        ("user", "Hi there <b>model</b>"),
        ("assistant", "Hello! **How** can I help?"),
    ]

    # The pressed reaction, clicked again, is taken back.
    reply.get_by_role("button", name="Thumbs up").click()
    page.wait_for_selector("button[data-kind=thumbs_up][aria-pressed=false]")
    assert not Reaction.objects.exists()
    assert problems == []


def test_a_backend_error_shows_in_the_chat_and_retry_answers(page, live_server, chat_project, llm):
    add_member(chat_project, UserFactory(username="unlucky"))
    llm.then(Step(status=500, body="model crashed"), Step(status=500, body="model crashed"))
    _open_new_conversation(page, live_server, chat_project, "unlucky")

    page.fill("form.composer textarea", "Are you there?")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("The model could not answer").wait_for()
    assert "HTTP 500" in page.locator("article.msg-failed").inner_text()
    assert page.get_by_role("button", name="Send").is_disabled()
    screenshot(page, "chat-error")

    page.get_by_role("button", name="Retry").click()
    page.get_by_text("You said: Are you there?").wait_for()
    assert page.locator("article.msg-failed").count() == 0
    assert list(Conversation.objects.get().messages.values_list("role", "error")) == [
        ("user", ""),
        ("assistant", ""),
    ]
