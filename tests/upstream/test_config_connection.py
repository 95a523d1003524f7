""" "Test connection" against real local websocket servers: one that accepts ocpp1.6 (with HTTP
Basic checked, and over TLS with a custom CA), one answering 401, one without ocpp1.6, a port
nobody listens on, a server that never answers; the SSRF guard refuses local addresses in
production. No OCPP message is ever sent."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from auth_access import egress
from chargers.models import Charger
from tests.access.fake_dns import FakeDns
from tests.conftest import World, api_as
from tests.upstream.test_tls import tls  # noqa: F401  (fixture: a CA and a server context)
from upstream.choices import SecurityProfile
from upstream.models import UpstreamSettings
from upstream.probe import ProbeOutcome, probe_connection

pytestmark = pytest.mark.django_db

PASSWORD = "a-password-of-24-chars!!"


@dataclass
class Upstream:
    """A websocket server on 127.0.0.1 that records what reaches it."""

    subprotocols: list[str] = field(default_factory=lambda: ["ocpp1.6"])
    password: str | None = None  # HTTP Basic checked when set
    status: int | None = None  # refuse every upgrade with this status
    tls: ssl.SSLContext | None = None
    paths: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server: Server = serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=self.subprotocols or None,  # type: ignore[arg-type]
            process_request=self._process,
            ssl=self.tls,
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.socket.getsockname()[1])

    def _process(self, connection: ServerConnection, request: Any) -> Any:
        self.paths.append(request.path)
        authorization = request.headers.get("Authorization", "")
        self.authorizations.append(authorization)
        if self.status is not None:
            return connection.respond(self.status, "Refused\n")
        if self.password is not None:
            expected = base64.b64encode(f"FB-HARBOUR-A1:{self.password}".encode()).decode()
            if authorization != f"Basic {expected}":
                return connection.respond(401, "Unauthorized\n")
        return None

    def _handle(self, websocket: ServerConnection) -> None:
        for message in websocket:
            self.messages.append(message)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def upstreams() -> Iterator[Callable[..., Upstream]]:
    made: list[Upstream] = []

    def make(**options: Any) -> Upstream:
        made.append(Upstream(**options))
        return made[-1]

    yield make
    for upstream in made:
        upstream.stop()


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    resolver = FakeDns()
    monkeypatch.setattr(egress, "lookup", resolver)
    return resolver


@pytest.fixture(autouse=True)
def local_upstream(settings: Any) -> None:
    settings.UPSTREAM_ALLOW_LOCAL = True


def bridged(charger: Charger, url: str, **options: Any) -> UpstreamSettings:
    return UpstreamSettings.objects.create(
        installation=charger.installation, url=url, identity="FB-{identity}", **options
    )


def test_an_upstream_accepting_ocpp16_with_the_right_password(
    world: World, upstreams: Callable[..., Upstream]
) -> None:
    upstream = upstreams(password=PASSWORD)
    row = bridged(
        world.charger_a1,
        f"ws://127.0.0.1:{upstream.port}/ocpp",
        security_profile=SecurityProfile.BASIC,
        password=PASSWORD,
    )
    result = probe_connection(row, world.charger_a1)
    assert result.ok and result.outcome == ProbeOutcome.CONNECTED, result
    assert "ocpp1.6 agreed" in result.detail
    assert upstream.paths == ["/ocpp/FB-HARBOUR-A1"]
    assert upstream.messages == []  # no OCPP message was sent

    row.password = "the-wrong-password-here"
    refused = probe_connection(row, world.charger_a1)
    assert (refused.outcome, refused.http_status) == (ProbeOutcome.UNAUTHORIZED, 401)
    assert "401" in refused.detail and not refused.ok


def test_refusals_by_status_and_subprotocol(
    world: World, upstreams: Callable[..., Upstream]
) -> None:
    cases = [
        (upstreams(status=401), ProbeOutcome.UNAUTHORIZED, "HTTP 401"),
        (upstreams(status=404), ProbeOutcome.NOT_FOUND, "HTTP 404"),
        (upstreams(status=503), ProbeOutcome.HTTP_ERROR, "HTTP 503"),
        (upstreams(subprotocols=[]), ProbeOutcome.NO_SUBPROTOCOL, "ocpp1.6"),
    ]
    for upstream, outcome, words in cases:
        row = UpstreamSettings(
            installation=world.site_a, url=f"ws://127.0.0.1:{upstream.port}/cs/{{identity}}"
        )
        result = probe_connection(row, world.charger_a1)
        assert result.outcome == outcome and words in result.detail, result
        assert upstream.paths == ["/cs/HARBOUR-A1"]
        assert upstream.messages == []


def test_a_closed_port_a_silent_server_and_the_ssrf_guard(world: World, settings: Any) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    row = UpstreamSettings(installation=world.site_a, url=f"ws://127.0.0.1:{port}/ocpp")
    refused = probe_connection(row, world.charger_a1)
    assert refused.outcome == ProbeOutcome.REFUSED and "refused" in refused.detail

    silent = socket.socket()  # accepts the TCP connection (backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        row.url = f"ws://127.0.0.1:{silent.getsockname()[1]}/ocpp"
        slow = probe_connection(row, world.charger_a1, timeout_s=0.5)
        assert slow.outcome == ProbeOutcome.TIMED_OUT, slow
        assert slow.duration_ms < 3000
    finally:
        silent.close()

    settings.UPSTREAM_ALLOW_LOCAL = False
    row.url = "ws://localhost:9000/ocpp"
    unsafe = probe_connection(row, world.charger_a1)
    assert unsafe.outcome == ProbeOutcome.UNSAFE and "loopback" in unsafe.detail


def test_tls_with_the_custom_ca_and_without_it(
    world: World,
    upstreams: Callable[..., Upstream],
    tls: tuple[ssl.SSLContext, str],  # noqa: F811
) -> None:
    context, ca_pem = tls
    upstream = upstreams(tls=context, password=PASSWORD)
    row = UpstreamSettings(
        installation=world.site_a,
        url=f"wss://localhost:{upstream.port}/ocpp",
        identity="FB-{identity}",
        security_profile=SecurityProfile.TLS_BASIC,
        password=PASSWORD,
        ca_certificate=ca_pem,
    )
    verified = probe_connection(row, world.charger_a1)
    assert verified.outcome == ProbeOutcome.CONNECTED, verified

    row.ca_certificate = ""  # the system's trust store does not know the test CA
    failed = probe_connection(row, world.charger_a1)
    assert failed.outcome == ProbeOutcome.TLS_FAILED, failed
    assert "certificate" in failed.detail
    assert len(upstream.paths) == 1  # the failed handshake never reached HTTP


def test_the_api_and_the_page_button(world: World, upstreams: Callable[..., Upstream]) -> None:
    upstream = upstreams()
    bridged(world.charger_a1, f"ws://127.0.0.1:{upstream.port}/ocpp")
    answer = api_as(world.ingrid).post(f"/api/v1/chargers/{world.charger_a1.pk}/upstream/test/")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["ok"], body["outcome"], body["http_status"]) == (True, "connected", None)
    assert body["url"] == f"ws://127.0.0.1:{upstream.port}/ocpp/FB-HARBOUR-A1"

    from django.test import Client

    client = Client()
    client.force_login(world.alice)
    page = client.post(f"/chargers/{world.charger_a1.pk}/upstream/test/", follow=True)
    assert page.status_code == 200
    assert "subprotocol ocpp1.6 agreed" in page.content.decode()
    assert upstream.messages == []
