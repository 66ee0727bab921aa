import socket
import threading
import time

import pytest
from django.test import override_settings

from apps.generation.backends import (
    BackendConfigError,
    GenerationError,
    OpenAICompatibleBackend,
    backend_from_config,
)
from tests.apps.generation.openai_server import Step, completion, openai_server

HELLO = [{"role": "user", "content": "Hello?"}]


def backend_for(server, **config) -> OpenAICompatibleBackend:
    return backend_from_config(
        {
            "type": "openai",
            "base_url": server.base_url,
            "model": "tiny-chat",
            "timeout": 2,
            "backoff": 0.01,
            **config,
        }
    )


def test_a_good_answer_is_returned_and_the_request_carries_the_settings():
    with openai_server(Step(reply="Hi there!")) as server:
        backend = backend_for(server, api_key="sk-test", max_tokens=64)
        replies = backend.generate(HELLO, temperature=0.2, top_p=0.9)
    assert replies == ["Hi there!"]
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["json"] == {
        "model": "tiny-chat",
        "messages": HELLO,
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
    }


def test_server_errors_are_retried_with_backoff_then_the_answer_is_returned():
    with openai_server(
        Step(status=500, body='{"error": "overloaded"}'),
        Step(status=503, body="busy"),
        Step(reply="Third time lucky."),
    ) as server:
        backend = backend_for(server, max_retries=2, backoff=0.05)
        started = time.monotonic()
        assert backend.generate(HELLO) == ["Third time lucky."]
        waited = time.monotonic() - started
    assert len(server.requests) == 3
    assert waited >= 0.05 + 0.1, "waits backoff, then twice the backoff"


def test_a_server_that_keeps_failing_raises_a_generation_error_with_the_status_not_the_body():
    with openai_server(*[Step(status=502, body="secret internal page")] * 3) as server:
        backend = backend_for(server, max_retries=2)
        with pytest.raises(GenerationError) as error:
            backend.generate(HELLO)
    assert len(server.requests) == 3
    assert error.value.attempts == 3
    assert "failed after 3 attempts" in error.value.reason
    assert "HTTP 502 Bad Gateway" in error.value.reason
    assert "secret" not in error.value.reason


def test_a_timeout_is_retried_then_reported():
    with openai_server(Step(delay=5), Step(delay=5)) as server:
        backend = backend_for(server, timeout=0.2, max_retries=1)
        started = time.monotonic()
        with pytest.raises(GenerationError) as error:
            backend.generate(HELLO)
        assert time.monotonic() - started < 2
    assert len(server.requests) == 2
    assert "timeout" in error.value.reason and "0.2 s" in error.value.reason


def test_a_timeout_then_an_answer_succeeds():
    with openai_server(Step(delay=5), Step(reply="Sorry, I was slow.")) as server:
        backend = backend_for(server, timeout=0.2, max_retries=1)
        assert backend.generate(HELLO) == ["Sorry, I was slow."]


def test_malformed_json_is_retried_then_a_clear_generation_error():
    with openai_server(
        Step(body="{not json"), Step(body='{"choices": []}'), Step(body='{"choices": [{}]}')
    ) as server:
        backend = backend_for(server, max_retries=2)
        with pytest.raises(GenerationError) as error:
            backend.generate(HELLO)
    assert len(server.requests) == 3
    assert "malformed JSON answer" in error.value.reason


def test_a_client_error_is_final_and_not_retried():
    with openai_server(Step(status=401, body='{"error": "bad key"}')) as server:
        backend = backend_for(server, max_retries=3)
        with pytest.raises(GenerationError, match="refused the request: HTTP 401") as error:
            backend.generate(HELLO)
    assert len(server.requests) == 1
    assert "bad key" not in error.value.reason


def test_a_server_the_operator_has_not_allowed_is_refused_before_any_request(settings):
    with openai_server() as server:
        base_url = server.base_url
        with (
            override_settings(ARBITER_OUTBOUND_ALLOW_HOSTS=[]),
            pytest.raises(BackendConfigError, match="loopback address"),
        ):
            backend_from_config({"type": "openai", "base_url": base_url, "model": "m"})
    assert server.requests == []


def test_an_unreachable_server_is_a_generation_error(settings):
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with openai_server() as server:
        base_url = server.base_url
    backend = backend_from_config(
        {"type": "openai", "base_url": base_url, "model": "m", "max_retries": 1, "backoff": 0}
    )
    with pytest.raises(GenerationError, match="could not reach the server"):
        backend.generate(HELLO)


def test_n_replies_are_topped_up_when_the_server_answers_fewer():
    one_choice = completion("only one")
    with openai_server(Step(body=one_choice), Step(body=one_choice)) as server:
        backend = backend_for(server)
        assert backend.generate(HELLO, n=2) == ["only one", "only one"]
    assert [r["json"].get("n") for r in server.requests] == [2, None]


def test_batches_answer_each_conversation_in_order():
    conversations = [[{"role": "user", "content": f"q{i}"}] for i in range(5)]
    with openai_server() as server:
        replies = backend_for(server).generate_batch(conversations)
    assert replies == [[f"You said: q{i}"] for i in range(5)]


def test_a_server_that_does_not_speak_http_is_reported_without_its_words(settings):
    # A service that is not an HTTP server: the parser would quote its banner; the page must not.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_garbage():
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nSECRET-BANNER of a service\r\n\r\n")

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    settings.ARBITER_OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{port}"]
    backend = backend_from_config(
        {"type": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "m",
         "max_retries": 1, "backoff": 0}
    )  # fmt: skip
    with pytest.raises(GenerationError) as error:
        backend.generate(HELLO)
    thread.join(timeout=5)
    listener.close()
    assert "could not reach the server" in error.value.reason
    assert "SECRET" not in error.value.reason
