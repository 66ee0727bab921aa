import pytest

from apps.arena.models import Turn
from apps.arena.services import contestant_add, reply_generate
from apps.projects.models import FeedbackKind, Membership, Role
from tests.apps.generation.openai_server import openai_server
from tests.factories import ProjectFactory, UserFactory, add_member


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def model_answer(body: dict) -> str:
    """What the test server's models say: their name and the last user message."""
    last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return f"{body['model']} on {last}"


@pytest.fixture
def llm():
    """A scripted OpenAI-compatible server on 127.0.0.1 whose answer names the model asked."""
    with openai_server() as server:
        server.responder = model_answer
        yield server


def endpoint_config(server, model: str) -> dict:
    return {
        "type": "openai",
        "base_url": server.base_url,
        "model": model,
        "timeout": 5,
        "max_retries": 1,
        "backoff": 0.01,
    }


@pytest.fixture
def arena_admin(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def arena_project(arena_admin, llm):
    project = ProjectFactory(kind=FeedbackKind.PAIRWISE, created_by=arena_admin)
    Membership.objects.create(project=project, user=arena_admin, role=Role.ADMIN)
    for model in ("model-x", "model-y"):
        contestant_add(project=project, actor=arena_admin, config=endpoint_config(llm, model))
    return project


@pytest.fixture
def voter(arena_project):
    return add_member(arena_project, UserFactory())


def answered(turn: Turn) -> Turn:
    """Runs here what the workers run for a turn's two queued replies."""
    for reply in turn.replies.all():
        assert reply.status == "pending", reply.status
        reply_generate(reply_id=reply.pk)
    return Turn.objects.get(pk=turn.pk)
