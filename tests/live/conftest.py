"""The ASGI app served by uvicorn (as the demo and the Dockerfile run it) in a thread, and a
client of its server-sent events that reads them line by line from a real socket."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from django.db import connections
from django.test import Client

from accounts.models import User
from portal.redis import get_redis
from tests.ocpp.conftest import bridge, chargers  # noqa: F401  (the real bridge and chargers)
from tests.web.conftest import client_as  # noqa: F401


@pytest.fixture(autouse=True)
def _committed(transactional_db: None) -> None:
    """The server's threads must see what the test wrote."""


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


@pytest.fixture
def asgi_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``portal.asgi:application`` under uvicorn on a free port; its base URL."""
    from portal.asgi import application

    # As Django advises under ASGI: no persistent connections (each request runs its sync parts
    # in a thread of its own, which would leave its connection behind).
    db_settings = connections.settings["default"]
    monkeypatch.setitem(db_settings, "CONN_MAX_AGE", 0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(application, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@dataclass
class EventStream:
    """One GET of an event stream; ``next_event()`` reads the next block (up to a blank line)."""

    response: http.client.HTTPResponse
    connection: http.client.HTTPConnection
    comments: list[str] = field(default_factory=list)

    def next_block(self, timeout: float = 5) -> dict[str, str]:
        """The next block's fields (comments are collected in ``comments``); {} at the end."""
        assert self.connection.sock is not None
        self.connection.sock.settimeout(timeout)
        block: dict[str, str] = {}
        while True:
            line = self.response.readline().decode()
            if not line:
                return block  # the server ended the stream
            line = line.rstrip("\n")
            if not line:
                if block:
                    return block
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            block[name] = value.strip()

    def next_event(self, timeout: float = 5) -> dict[str, str]:
        """The next block that names an event (skipping the opening ``retry`` block)."""
        while True:
            block = self.next_block(timeout)
            if not block or "event" in block:
                return block

    def close(self) -> None:
        self.connection.close()


def open_stream(base_url: str, path: str, user: User | None) -> EventStream | int:
    """The stream, once subscribed (its opening block read), or the status of a refusal."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Accept": "text/event-stream"}
    if user is not None:
        headers["Cookie"] = session_cookie(user)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    if response.status != 200:
        response.read()
        connection.close()
        return response.status
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    stream = EventStream(response, connection)
    assert "retry" in stream.next_block()  # sent after the subscription is in place
    return stream
