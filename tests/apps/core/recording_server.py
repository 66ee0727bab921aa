"""A plain HTTP server on 127.0.0.1 that records what reaches it and answers one scripted
status (with a Location header for redirects), for tests of the outbound guard."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class RecordingServer:
    port: int = 0
    status: int = 200
    location: str = ""
    body: bytes = b'{"ok": true}'
    requests: list[dict] = field(default_factory=list)  # each: {"method", "path", "headers"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(server: RecordingServer):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            server.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers)}
            )
            self.send_response(server.status)
            if server.location:
                self.send_header("Location", server.location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(server.body)))
            self.end_headers()
            self.wfile.write(server.body)

        do_GET = do_POST = _answer

        def log_message(self, format, *args):
            pass

    return Handler


@contextmanager
def recording_server(
    *, status: int = 200, location: str = "", body: bytes = b'{"ok": true}'
) -> Iterator[RecordingServer]:
    state = RecordingServer(status=status, location=location, body=body)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
