"""Fixtures of the webhook tests: a real receiver (``http.server`` in a thread) that checks every
delivery with the receiver example of docs/webhooks.md, a fake DNS, local receivers allowed.

The ``verify`` function is taken from the documentation itself (its first Python block), so the
example that integrators copy is the one the tests run.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from auth_access import egress
from tests.access.fake_dns import FakeDns
from tests.web.conftest import (  # noqa: F401  (the pages' and browser tests' fixtures)
    browser,
    client_as,
    live_static,
    page,
    phone,
    screenshot,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verifier() -> dict[str, Any]:
    """The namespace of the docs' first Python block: ``verify``, ``InvalidWebhook``, ..."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # our own documentation
    return namespace


DOCS = documented_verifier()
verify: Callable[..., dict[str, Any]] = DOCS["verify"]
InvalidWebhook: type[Exception] = DOCS["InvalidWebhook"]


@dataclass
class Received:
    """One request as the receiver saw it: ``event`` None when the docs' check refused it."""

    headers: dict[str, str]
    body: bytes
    event: dict[str, Any] | None
    refusal: str
    at: float  # time.monotonic() on arrival
    port: int  # the sender's port: one per connection


@dataclass
class Behaviour:
    """How the receiver answers: a status code, after a delay; or it resets the connection."""

    status_code: int = 200
    body: bytes = b'{"ok": true}'
    delay_s: float = 0.0
    reset: bool = False


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 with a secret; ``behave`` decides each answer."""

    secret: str = ""
    behave: Callable[[], Behaviour] = field(default=lambda: Behaviour())
    keep_alive: bool = False  # HTTP/1.1 persistent connections (else one per request)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/fusebox-hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [r.event for r in self.received if r.event is not None]

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    event, refusal = verify(receiver.secret, self.headers, body), ""
                except InvalidWebhook as error:
                    event, refusal = None, str(error)
                receiver.received.append(
                    Received(
                        dict(self.headers.items()),
                        body,
                        event,
                        refusal,
                        arrived,
                        self.client_address[1],
                    )
                )
                behaviour = receiver.behave() if event is not None else Behaviour(401)
                time.sleep(behaviour.delay_s)
                try:
                    if behaviour.reset:  # RST instead of an answer
                        self.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        self.connection.close()
                        self.close_connection = True
                        return
                    self.send_response(behaviour.status_code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(behaviour.body)))
                    self.end_headers()
                    self.wfile.write(behaviour.body)
                except OSError:  # the sender gave up (timeout)
                    pass

        return Handler


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """No test asks real DNS: the SSRF guard resolves through tests/access/fake_dns.py."""
    resolver = FakeDns()
    monkeypatch.setattr(egress, "lookup", resolver)
    return resolver


@pytest.fixture(autouse=True)
def local_receivers(settings: Any) -> None:
    """The receivers listen on 127.0.0.1 over http (the development switch), with a short
    timeout so that a hanging receiver costs the tests little."""
    settings.WEBHOOKS_ALLOW_LOCAL = True
    settings.WEBHOOKS_TIMEOUT_S = 1.0


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Make receivers (``receivers(secret=...)``); all are stopped after the test."""
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()
