"""The chargers' websocket endpoint: ``ws(s)://HOST:PORT/ocpp/<identity>``, OCPP-J 1.6 only.

At the upgrade (``admit``) a charger must name a known identity (else 404), prove it with HTTP
Basic auth, security profile 1 (username = identity, password checked by
``Charger.check_ocpp_password``; else 401), and offer the ``ocpp1.6`` subprotocol (else 400).
A refused upgrade creates nothing but a ``ConnectionAttempt`` (folded per identity and reason).

The lookup at the upgrade (the Charger row, its connectors' statuses and sessions in progress)
runs on a database lane of its own, in batches (``Admissions``): in a reconnect storm thousands
of upgrades arrive within a minute, and one query per identity would queue them behind each other
and behind the chargers' writes until they time out. The row is read fresh at every upgrade, so a
rotated password or a deleted charger takes effect at the next connection, as before.

One connection per identity: a second connection replaces the first, which is closed with code
4000 and a reason saying so; the newer one takes over presence, and the older one's end changes
nothing. The Charger row read at the upgrade is kept for the connection's lifetime.
"""

from __future__ import annotations

import asyncio
import http
import logging
import ssl
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from weakref import WeakKeyDictionary

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHeader
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from chargers.models import ocpp_identity_validator
from ocpp_bridge import persistence
from ocpp_bridge.batching import Batches
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.handlers import BridgeChargePoint

if TYPE_CHECKING:
    from chargers.models import Charger
    from ocpp_bridge.bridge import Bridge

logger = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")
PATH_PREFIX = "/ocpp/"
HEALTH_PATHS = {"/health", "/healthz"}
REPLACED_CODE = 4000
REPLACED_REASON = "Replaced by a newer connection of the same charge point"
REALM = "OCPP"
# Connections the kernel completes while the loop is busy (e.g. a collector pause in a reconnect
# storm of 167 upgrades/s): asyncio's default of 100 would drop the rest, whose chargers retry
# their SYN a second or more later. Capped by net.core.somaxconn.
LISTEN_BACKLOG = 4096


def tls_context(cert_file: str, key_file: str = "") -> ssl.SSLContext:
    """Server-side TLS (security profile 2: TLS plus Basic auth)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file or None)
    return context


def _credentials(headers: Headers) -> tuple[str, str] | None:
    try:
        return parse_authorization_basic(headers["Authorization"])
    except (KeyError, InvalidHeader):
        return None


def _offered_subprotocols(headers: Headers) -> set[str]:
    return {
        item.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for item in value.split(",")
    }


Found = tuple["Charger", persistence.ConnectedState]
BatchLookup = Callable[[Collection[str]], Awaitable[dict[str, Found]]]


class Admissions(Batches[str, "Found | None"]):
    """Chargers looked up for their upgrades in batches (``batching.Batches``): one query for
    the upgrades of a reconnect storm's moment instead of one each."""

    name = "upgrades"

    def __init__(self, lookup: BatchLookup, *, max_batch: int = 500) -> None:
        super().__init__(max_batch=max_batch)
        self.lookup = lookup

    async def find(self, identity: str) -> Found | None:
        """The charger with this identity and its connection's state, or None if unknown."""
        return await self.ask(identity)

    async def run(self, items: list[str]) -> list[Found | None]:
        found = await self.lookup(set(items))
        return [found.get(identity) for identity in items]


def _may_exist(identity: str) -> bool:
    """Whether a charger could have this identity (``Charger.ocpp_identity``'s rule)."""
    return ocpp_identity_validator.regex.fullmatch(identity) is not None


def _remote_address(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if isinstance(address, tuple) and address else str(address or "")


class OcppServer:
    """The websockets server and the connections it holds, by identity."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.connections: dict[str, BridgeChargePoint] = {}
        self.server: Server | None = None
        self.admissions = Admissions(self._find_chargers)
        self._admitted: WeakKeyDictionary[ServerConnection, Found] = WeakKeyDictionary()
        self._background: set[asyncio.Task[Any]] = set()
        self.closed_count = 0  # connections ended so far

    async def start(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        ping_interval_s: float | None = 30,
        ping_timeout_s: float | None = 30,
    ) -> Server:
        self.server = await serve(
            self.handle,
            host,
            port,
            subprotocols=[SUBPROTOCOL],
            process_request=self.admit,
            # Compression costs ~100 kB per connection and chargers' frames are tiny.
            compression=None,
            ping_interval=ping_interval_s,
            ping_timeout=ping_timeout_s,
            ssl=ssl_context,
            server_header=None,
            backlog=LISTEN_BACKLOG,
        )
        return self.server

    # --- the upgrade ------------------------------------------------------------------------

    async def admit(self, connection: ServerConnection, request: Request) -> Response | None:
        """Decide on the upgrade: None lets it proceed, a Response refuses it."""
        path = urlsplit(request.path).path
        if path in HEALTH_PATHS:
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        identity = unquote(path.removeprefix(PATH_PREFIX).rstrip("/"))
        if not path.startswith(PATH_PREFIX) or not identity or "/" in identity:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found\n")
        # An identity no charger can have is not looked up: it shares no batch with others
        # (a NUL in it would fail the whole batch's query: every upgrade in it).
        found = await self.admissions.find(identity) if _may_exist(identity) else None
        if found is None:
            if "\x00" not in identity:
                await self._refused(connection, identity, AttemptReason.UNKNOWN_IDENTITY)
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Unknown charge point\n")
        charger = found[0]
        credentials = _credentials(request.headers)
        if (
            credentials is None
            or credentials[0] != identity
            or not charger.check_ocpp_password(credentials[1])
        ):
            await self._refused(connection, identity, AttemptReason.BAD_PASSWORD)
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Invalid credentials\n")
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic(REALM)
            return response
        if SUBPROTOCOL not in _offered_subprotocols(request.headers):
            await self._refused(connection, identity, AttemptReason.BAD_SUBPROTOCOL)
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST, f"The {SUBPROTOCOL} subprotocol is required\n"
            )
        self._admitted[connection] = found
        return None

    async def _find_chargers(self, identities: Collection[str]) -> dict[str, Found]:
        return await self.bridge.db_admissions(persistence.find_chargers, identities)

    async def _refused(
        self, connection: ServerConnection, identity: str, reason: AttemptReason
    ) -> None:
        logger.info("Refused %s from %s: %s", identity, _remote_address(connection), reason.label)
        await self.bridge.db(
            persistence.record_refused_attempt, identity, reason, _remote_address(connection)
        )

    # --- a connection's life ----------------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        charger, state = self._admitted.pop(connection)
        charge_point = BridgeChargePoint(charger, connection, self.bridge)
        charge_point.load(state)
        identity = charge_point.id
        previous = self.connections.get(identity)
        self.connections[identity] = charge_point
        if previous is not None:
            logger.info("%s: a new connection replaces the previous one", identity)
            previous.replace()
            self._spawn(previous._connection.close(REPLACED_CODE, REPLACED_REASON))
        try:
            self._opened(charge_point, replaced=previous is not None)
            await charge_point.serve()
        finally:
            charge_point.closed.set()
            self.closed_count += 1
            if self.connections.get(identity) is charge_point:
                del self.connections[identity]
                if charge_point.upstream is not None:
                    try:
                        self.bridge.upstream.gone(charge_point)
                    except Exception:
                        logger.exception("%s: closing the upstream link failed", identity)
                if not self.bridge.shutting_down:
                    self._closed(charge_point)

    def _opened(self, charge_point: BridgeChargePoint, *, replaced: bool) -> None:
        """Present in Redis with the presence writer's next round (started at once); online in
        the database with the next batch. The charger is served meanwhile, whether Redis is
        quick, slow or away (the writer retries)."""
        summary = "Connected" + (" (replacing the previous connection)" if replaced else "")
        self.bridge.presence.connected(
            charge_point.id,
            charge_point.charger.pk,
            charge_point.connectors_json(),
            summary,
            installation_id=charge_point.charger.installation_id,
        )

    def _closed(self, charge_point: BridgeChargePoint) -> None:
        connection = charge_point._connection
        code = connection.close_code
        reason = connection.close_reason
        summary = f"Disconnected (code {code}{': ' + reason if reason else ''})"
        self.bridge.presence.disconnected(charge_point.id, charge_point.charger.pk, summary)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Stop listening and close every connection (1001 going away)."""
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
