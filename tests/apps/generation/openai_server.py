"""A scripted OpenAI-compatible server on 127.0.0.1, for tests of backends, the chat and the
browser. Each request takes the next scripted step; when the script runs out, it echoes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.test import override_settings


@dataclass
class Step:
    """What the server does for one request: answer `status` with `body` after `delay` s."""

    status: int = 200
    body: str | None = None  # None: a well-formed completion of `reply`
    reply: str | None = None  # None: echo the last user message
    delay: float = 0.0


def completion(*replies: str, model: str = "fake-model") -> str:
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": r},
                    "finish_reason": "stop",
                }
                for i, r in enumerate(replies)
            ],
        }
    )


@dataclass
class FakeOpenAIServer:
    base_url: str = ""
    script: list[Step] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # each: {"path", "headers", "json"}
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Answers a request (its JSON body) once the script is spent, instead of echoing: a server
    # whose reply depends on what it is asked, whatever order concurrent requests arrive in.
    responder: Callable[[dict], str] | None = None

    def then(self, *steps: Step) -> FakeOpenAIServer:
        with self.lock:
            self.script.extend(steps)
        return self

    def _next(self) -> Step:
        with self.lock:
            return self.script.pop(0) if self.script else Step()


def _handler(server: FakeOpenAIServer):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            with server.lock:
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": body}
                )
            step = server._next()
            if step.delay and server.stopping.wait(step.delay):
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                step = Step(status=404, body='{"error": "not found"}')
            text = step.body
            if text is None:
                user_turns = [m["content"] for m in body["messages"] if m["role"] == "user"]
                reply = step.reply if step.reply is not None else f"You said: {user_turns[-1]}"
                if step.reply is None and server.responder is not None:
                    reply = server.responder(body)
                text = completion(*[reply] * int(body.get("n", 1)), model=body["model"])
            payload = text.encode()
            try:
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (a timeout test)

        def log_message(self, format, *args):
            pass

    return Handler


@contextmanager
def openai_server(*steps: Step) -> Iterator[FakeOpenAIServer]:
    """A running server; `server.base_url` is its API root (…/v1).

    While it runs, the operator's outbound allow-list holds its address and port, as an operator
    allows a vLLM server on the LAN; a worker started meanwhile inherits the setting."""
    state = FakeOpenAIServer(script=list(steps))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.handle_error = lambda request, address: None  # a client that hung up is expected
    address = f"127.0.0.1:{httpd.server_address[1]}"
    state.base_url = f"http://{address}/v1"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    allowed = [*getattr(settings, "ARBITER_OUTBOUND_ALLOW_HOSTS", []), address]
    try:
        with override_settings(ARBITER_OUTBOUND_ALLOW_HOSTS=allowed):
            yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
