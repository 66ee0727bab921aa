import pytest

from apps.chat.models import Conversation, Message
from apps.chat.services import reply_generate
from apps.projects.models import FeedbackKind, Membership, Role
from tests.apps.generation.openai_server import openai_server
from tests.factories import ProjectFactory, UserFactory, add_member


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The default PBKDF2 costs ~0.5 s per user on these CPUs; no test here is about passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def llm():
    """A scripted OpenAI-compatible server on 127.0.0.1 (echoes unless scripted)."""
    with openai_server() as server:
        yield server


def answered(reply: Message) -> Message:
    """Runs here what the worker runs for a queued reply (apps.chat.tasks.generate_reply)."""
    assert reply.status == "pending", reply.status
    return reply_generate(message_id=reply.pk)


def backend_config(server, **extra) -> dict:
    return {
        "type": "openai",
        "base_url": server.base_url,
        "model": "fake-chat",
        "timeout": 2,
        "max_retries": 1,
        "backoff": 0.01,
        **extra,
    }


@pytest.fixture
def chat_admin(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def chat_project(chat_admin, llm):
    project = ProjectFactory(
        kind=FeedbackKind.CHAT, created_by=chat_admin, generation_backend=backend_config(llm)
    )
    Membership.objects.create(project=project, user=chat_admin, role=Role.ADMIN)
    return project


@pytest.fixture
def chatter(chat_project):
    return add_member(chat_project, UserFactory())


@pytest.fixture
def conversation(chat_project, chatter):
    return Conversation.objects.create(project=chat_project, user=chatter)
