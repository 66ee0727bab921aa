"""SSRF: every URL the app calls on its own, in every spelling of a non-public address, is
refused when it is saved (a 4xx, nothing stored) and again when it is used (the guard re-checks
and pins the address), and a redirect from a server the operator allowed is never followed.

Entry points where a URL is typed (ENTRY_POINTS): the webhook API, the generation job form, the
consequence job form, the chat settings form, and the model-endpoint API (create and change),
which is the API of the generation and chat servers. Senders that re-check (SENDERS): webhook
deliveries, generation jobs and chat replies.

Every test is marked `ssrf`. `make test-security` counts them (tests/security/conftest.py): a
failed test is an address that got through (`ssrf_passed`), and `ssrf_forms` is the number of
entry points and senders exercised.
"""

import socket
import threading

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.chat.models import Conversation, MessageStatus
from apps.chat.services import message_send, reply_generate
from apps.generation.models import GenerationJob, ModelEndpoint
from apps.generation.services import generation_job_run
from apps.projects.models import FeedbackKind, Membership, Role
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from apps.webhooks.services import webhook_attempt, webhook_emit
from tests.apps.core.recording_server import recording_server
from tests.factories import ProjectFactory, PromptFactory, StaffFactory, UserFactory, add_member

pytestmark = [pytest.mark.ssrf, pytest.mark.django_db]

# Each resolves (or is written) as a loopback, private, link-local, multicast, reserved or
# IPv4-in-IPv6 address. `{port}` is a live recording server's port, so that a loopback spelling
# that got through would be seen arriving.
SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[2002:7f00:1::]",
    "[2002:c0a8:0101::1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b:1::7f00:1]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo
    "169.254.169.254",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "[fe80::1]",
    "224.0.0.1",
    "localhost",
    "localhost.",  # a name that resolves to loopback (from /etc/hosts, no DNS)
]
ENTRY_POINTS = (
    "webhook API",
    "generation job form",
    "consequence job form",
    "chat settings form",
    "model endpoint API create",
    "model endpoint API change",
)
SENDERS = ("webhook delivery", "generation job run", "chat reply")
GUARD_WORDS = ("may not point at", "unusual form")

_seen: set[str] = set()


@pytest.fixture
def count_entry(security_counters):
    """Counts the distinct entry points and senders exercised (ssrf_forms)."""

    def count(name: str) -> None:
        _seen.add(name)
        security_counters["ssrf_forms"] = len(_seen)

    return count


@pytest.fixture
def trap():
    """A live server on 127.0.0.1 that nothing may reach."""
    with recording_server() as server:
        yield server
    assert server.requests == [], "a refused address was called"


@pytest.fixture(autouse=True)
def no_allow_list(settings):
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = []
    settings.ARBITER_WEBHOOKS_ALLOW_PRIVATE = False


@pytest.fixture
def admin(db):
    return StaffFactory()


def _project(admin, kind=FeedbackKind.PAIRWISE, **fields):
    project = ProjectFactory(kind=kind, created_by=admin, **fields)
    Membership.objects.create(project=project, user=admin, role=Role.ADMIN)
    return project


def _url(spelling: str, port: int, path: str = "/v1") -> str:
    return f"http://{spelling}:{port}{path}"


def _refused_by_guard(text: str) -> bool:
    return any(words in text for words in GUARD_WORDS)


def _stored_counts() -> tuple[int, int, int]:
    return (
        WebhookEndpoint.objects.count(),
        ModelEndpoint.objects.count(),
        GenerationJob.objects.count(),
    )


# --- refused when saved ---------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_webhook_api_refuses_the_url(spelling, admin, trap, count_entry):
    project = _project(admin)
    api = APIClient()
    api.force_authenticate(admin)
    answer = api.post(
        f"/api/projects/{project.pk}/webhooks/",
        {"url": _url(spelling, trap.port, "/hook"), "events": [WebhookEvent.values[0]]},
        format="json",
    )
    assert 400 <= answer.status_code < 500, answer.content
    assert "secret" not in answer.data
    assert _stored_counts() == (0, 0, 0)
    count_entry("webhook API")


def _generation_form(spelling: str, port: int) -> dict:
    return {
        "openai_base_url": _url(spelling, port),
        "openai_models": "served",
        "n_per_prompt": 2,
        "temperature": 0.9,
        "top_p": 0.95,
        "max_tokens": 32,
        "batch_size": 4,
        "selection": "all",
        "pairing": "all",
        "pair_strategy": "all",
    }


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_generation_job_form_refuses_the_server_url(spelling, admin, client, trap, count_entry):
    project = _project(admin)
    PromptFactory(project=project)
    client.force_login(admin)
    answer = client.post(
        reverse("generation:new", args=[project.pk]), _generation_form(spelling, trap.port)
    )
    assert 400 <= answer.status_code < 500
    assert _refused_by_guard(answer.content.decode())
    assert _stored_counts() == (0, 0, 0)
    count_entry("generation job form")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_consequence_job_form_refuses_the_server_url(
    spelling, admin, client, trap, count_entry
):
    from apps.generation.consequences import DEFAULT_TEMPLATE

    project = _project(admin, kind=FeedbackKind.HINDSIGHT)
    client.force_login(admin)
    answer = client.post(
        reverse("generation:consequences-new", args=[project.pk]),
        {
            "openai_base_url": _url(spelling, trap.port),
            "openai_models": "served",
            "template": DEFAULT_TEMPLATE,
            "target": "responses",
            "selection": "without_consequence",
            "temperature": 0.7,
            "top_p": 1.0,
            "max_tokens": 64,
            "batch_size": 4,
        },
    )
    assert 400 <= answer.status_code < 500
    assert _refused_by_guard(answer.content.decode())
    assert _stored_counts() == (0, 0, 0)
    count_entry("consequence job form")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_chat_settings_form_refuses_the_server_url(spelling, admin, client, trap, count_entry):
    project = _project(admin, kind=FeedbackKind.CHAT)
    client.force_login(admin)
    answer = client.post(
        reverse("chat:settings", args=[project.pk]),
        {"type": "openai", "model": "m", "base_url": _url(spelling, trap.port), "api_key": "sk"},
    )
    assert 400 <= answer.status_code < 500
    assert _refused_by_guard(answer.content.decode())
    project.refresh_from_db()
    assert project.generation_backend in ({}, None)
    assert _stored_counts() == (0, 0, 0)
    count_entry("chat settings form")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_model_endpoint_api_refuses_the_url_on_create(spelling, admin, trap, count_entry):
    project = _project(admin)
    api = APIClient()
    api.force_authenticate(admin)
    answer = api.post(
        f"/api/projects/{project.pk}/model-endpoints/",
        {"base_url": _url(spelling, trap.port), "api_key": "sk-x"},
        format="json",
    )
    assert answer.status_code == 400 and _refused_by_guard(answer.data["detail"])
    assert _stored_counts() == (0, 0, 0)
    count_entry("model endpoint API create")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_model_endpoint_api_refuses_the_url_on_change(spelling, admin, trap, count_entry):
    project = _project(admin)
    endpoint = ModelEndpoint.objects.create(
        project=project, name="public", base_url="https://8.8.8.8/v1"
    )
    api = APIClient()
    api.force_authenticate(admin)
    answer = api.patch(
        f"/api/model-endpoints/{endpoint.pk}/",
        {"base_url": _url(spelling, trap.port)},
        format="json",
    )
    assert answer.status_code == 400 and _refused_by_guard(answer.data["detail"])
    endpoint.refresh_from_db()
    assert endpoint.base_url == "https://8.8.8.8/v1"
    count_entry("model endpoint API change")


# --- refused again when used (rows written past the checks, e.g. before this guard) --------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_webhook_delivery_rechecks_the_url_and_sends_nothing(spelling, admin, trap, count_entry):
    project = _project(admin)
    event = WebhookEvent.values[0]
    WebhookEndpoint.objects.create(
        project=project, url=_url(spelling, trap.port, "/hook"), events=[event]
    )
    (delivery,) = webhook_emit(project_id=project.pk, event=event, payload={"x": 1})
    webhook_attempt(delivery_id=delivery.pk)
    delivery = WebhookDelivery.objects.get(pk=delivery.pk)
    assert delivery.status == "failed" and _refused_by_guard(delivery.error)
    count_entry("webhook delivery")


def _endpoint_row(project, spelling: str, port: int) -> ModelEndpoint:
    return ModelEndpoint.objects.create(
        project=project, name="bad", base_url=_url(spelling, port), api_key_encrypted=""
    )


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_generation_job_rechecks_its_server_and_sends_nothing(spelling, admin, trap, count_entry):
    project = _project(admin)
    prompt = PromptFactory(project=project)
    endpoint = _endpoint_row(project, spelling, trap.port)
    job = GenerationJob.objects.create(
        project=project,
        created_by=admin,
        backends=[
            {
                "name": "m",
                "config": {"type": "openai", "endpoint": endpoint.pk, "model": "m"},
                "training_run": None,
            }
        ],
        n_per_prompt=2,
        item_ids=[prompt.pk],
        total=1,
    )
    job = generation_job_run(job_id=job.pk, worker="ssrf-test")
    assert job.status == "failed" and _refused_by_guard(job.error)
    count_entry("generation job run")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_chat_reply_rechecks_its_server_and_sends_nothing(spelling, admin, trap, count_entry):
    project = _project(admin, kind=FeedbackKind.CHAT)
    endpoint = _endpoint_row(project, spelling, trap.port)
    project.generation_backend = {"type": "openai", "endpoint": endpoint.pk, "model": "m"}
    project.save()
    chatter = add_member(project, UserFactory())
    conversation = Conversation.objects.create(project=project, user=chatter)
    pending = message_send(user=chatter, conversation_id=conversation.pk, content="Hello?")
    reply = reply_generate(message_id=pending.pk)
    assert reply.status == MessageStatus.FAILED and _refused_by_guard(reply.error)
    count_entry("chat reply")


# --- redirects from an allowed server are never followed ----------------------------------------


def test_a_model_server_the_operator_allowed_cannot_redirect_a_job_to_loopback(
    admin, settings, count_entry
):
    with (
        recording_server() as inside,
        recording_server(status=302, location=f"{inside.url}/v1/chat/completions") as allowed,
    ):
        settings.ARBITER_OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{allowed.port}"]
        project = _project(admin)
        prompt = PromptFactory(project=project)
        endpoint = ModelEndpoint.objects.create(
            project=project, name="lan", base_url=f"{allowed.url}/v1"
        )
        job = GenerationJob.objects.create(
            project=project,
            created_by=admin,
            backends=[
                {
                    "name": "m",
                    "config": {"type": "openai", "endpoint": endpoint.pk, "model": "m"},
                    "training_run": None,
                }
            ],
            n_per_prompt=2,
            item_ids=[prompt.pk],
            total=1,
        )
        job = generation_job_run(job_id=job.pk, worker="ssrf-test")
    assert job.status == "failed" and "redirects are not followed" in job.error
    assert len(allowed.requests) == 1 and inside.requests == []
    count_entry("generation job run")


def test_a_webhook_receiver_the_operator_allowed_cannot_redirect_a_delivery(
    admin, settings, count_entry
):
    with (
        recording_server() as inside,
        recording_server(status=302, location=f"{inside.url}/hook") as allowed,
    ):
        settings.ARBITER_OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{allowed.port}"]
        project = _project(admin)
        event = WebhookEvent.values[0]
        WebhookEndpoint.objects.create(project=project, url=f"{allowed.url}/hook", events=[event])
        (delivery,) = webhook_emit(project_id=project.pk, event=event, payload={})
        webhook_attempt(delivery_id=delivery.pk)
    delivery = WebhookDelivery.objects.get(pk=delivery.pk)
    assert delivery.status == "failed" and delivery.error == "HTTP 302"
    assert len(allowed.requests) == 1 and inside.requests == []
    count_entry("webhook delivery")


def test_the_operator_allow_list_admits_exactly_the_listed_server(admin, settings, count_entry):
    """The other side of the table: an allowed LAN server is accepted when saved and called."""
    with recording_server() as allowed:
        settings.ARBITER_OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{allowed.port}"]
        project = _project(admin)
        api = APIClient()
        api.force_authenticate(admin)
        ok = api.post(
            f"/api/projects/{project.pk}/model-endpoints/",
            {"base_url": f"{allowed.url}/v1"},
            format="json",
        )
        other_port = api.post(
            f"/api/projects/{project.pk}/model-endpoints/",
            {"base_url": f"http://127.0.0.1:{allowed.port + 1}/v1"},
            format="json",
        )
    assert ok.status_code == 201
    assert other_port.status_code == 400 and _refused_by_guard(other_port.data["detail"])
    count_entry("model endpoint API create")


def test_a_receiver_that_answers_garbage_is_logged_without_its_words(admin, settings, count_entry):
    """A service that is not an HTTP server (or answers in pieces of itself) is reported by the
    error's name: what it sent never reaches a delivery log or a page."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_garbage():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"SECRET-BANNER of an internal service\r\n\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{port}"]
    project = _project(admin)
    event = WebhookEvent.values[0]
    WebhookEndpoint.objects.create(project=project, url=f"http://127.0.0.1:{port}/", events=[event])
    (delivery,) = webhook_emit(project_id=project.pk, event=event, payload={})
    webhook_attempt(delivery_id=delivery.pk)
    thread.join(timeout=5)
    listener.close()
    delivery = WebhookDelivery.objects.get(pk=delivery.pk)
    assert delivery.error and "SECRET" not in delivery.error
    assert "SECRET" not in str(delivery.log)
    count_entry("webhook delivery")
