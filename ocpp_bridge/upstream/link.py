"""One bridged charger's OCPP-J 1.6 client connection to its upstream central system.

The bridge node that holds a charger's websocket also holds its upstream link (docs/upstream.md).
``manager.UpstreamManager`` (``bridge.upstream``) opens a ``Link`` when a bridged charger is accepted and
closes it when the charger leaves (or, by option, keeps it and reports Unavailable). A ``Link``
runs ``UpstreamChargePoint`` (the library's ``ChargePoint`` through the bridge's ``FrameRouter``,
so a bad frame from upstream gets its CallError and never reaches the charger) over
``websockets.connect`` with subprotocol ocpp1.6, reconnecting with exponential backoff and full
jitter. Nothing upstream does can block or end the charger's connection: every task is guarded,
and every call to upstream has a deadline.

What a link sends (OCPP 1.6 4.2, 4.7):
- on every connect: BootNotification with the charger's own boot information; Pending: only
  upstream's calls are answered and the boot is retried after upstream's interval; Rejected:
  nothing else is sent, the boot is retried after the interval. Once Accepted: every
  connector's current status (not its history), then Heartbeat at upstream's interval.
- the durable queue (``upstream.outbox``): Start/StopTransaction and transaction MeterValues, in
  order, one at a time, with upstream's transaction ids, while connected and accepted (its
  delivery and retries: ``delivery.QueueDelivery``, which ``Link`` extends);
- live messages (StatusNotification, MeterValues outside transactions, firmware and diagnostics
  status) while connected and accepted; dropped otherwise (the status is re-sent on connect).

What the charger's side asks of the link (statuses, TriggerMessage, the cards upstream vouched
for, Authorize and DataTransfer) is in ``charger_side.ChargerSide``, which ``Link`` extends.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import ssl
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from ocpp.messages import Call, CallError, MessageType
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from auth_access import egress
from commands.routing import PRESENCE_KEY
from ocpp_bridge.framing import FrameRouter, schema_error
from ocpp_bridge.upstream.charger_side import ChargerSide, _boot_payload
from ocpp_bridge.upstream.delivery import (  # noqa: F401  (QUEUE_BATCH, POLL_S: re-exported)
    POLL_S,
    QUEUE_BATCH,
    QueueDelivery,
    UpstreamUnavailable,
    _describe,
    _now,
)
from ocpp_bridge.upstream.inbound import InboundHandlers
from upstream import outbox
from upstream.choices import LinkState, SecurityProfile

if TYPE_CHECKING:
    from ocpp_bridge.handlers import BridgeChargePoint
    from ocpp_bridge.upstream.manager import UpstreamManager
    from upstream.models import UpstreamSettings

logger = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"
CALL_TIMEOUT_S = 30.0  # an upstream call without answer by then: the connection is in doubt
DEFAULT_INTERVAL_S = 60  # upstream's interval when it says 0
LIVE_QUEUE = 200  # live messages waiting to go out; beyond, the oldest are dropped
# Reconnection: exponential backoff with full jitter, capped; when a link to the same central
# system (scheme, host, port) connects again, the links to it waiting in backoff retry within a
# spread of their number / RECONNECTS_PER_S seconds (at least 1, at most SPREAD_MAX_S): a
# central system that is back is not left waiting minutes, nor hit by all of them at once.
BACKOFF_CAP_S = 120.0
RECONNECTS_PER_S = 200.0
SPREAD_MAX_S = 10.0


class UpstreamChargePoint(InboundHandlers, FrameRouter):
    """The charge point Fusebox presents upstream for one charger; ``self.link`` is its Link."""

    def __init__(self, link: Link, connection: ClientConnection) -> None:
        super().__init__(link.identity, connection, response_timeout=CALL_TIMEOUT_S)
        self.link = link
        # Done when the connection has closed: one task for the connection's life, which every
        # call and wait races (rather than a task of their own per message, cancelled after).
        self.closed: asyncio.Future[None] = asyncio.ensure_future(connection.wait_closed())
        self.closed.add_done_callback(lambda _: link._wake.set())

    async def send_call(self, action: str, payload: dict[str, Any], timeout_s: float) -> Any:
        """Send one call as the payload stands (camelCase) and return upstream's answer payload.
        A CallError raises its ``OCPPError``; an answer against the schema raises too; no
        answer within ``timeout_s`` raises ``TimeoutError``."""
        message = Call(str(uuid.uuid4()), action, payload)
        async with self._call_lock:
            await self._send(message.to_json())
            response = await self._get_specific_response(message.unique_id, timeout_s)
        if isinstance(response, CallError):
            raise response.to_exception()
        error = schema_error(MessageType.CallResult, action, response.payload)
        if error is not None:
            raise error
        self.link.received(action)
        return response.payload


class Link(ChargerSide, QueueDelivery):
    """A bridged charger's upstream connection and what it relays.

    Attributes the inbound handlers rely on: ``charger_id``, ``identity`` (the charger's Fusebox
    OCPP identity), ``settings`` (the ``UpstreamSettings`` in force), ``bridge``."""

    backoff_base_s = 1.0
    backoff_cap_s = BACKOFF_CAP_S
    retry_interval_s = outbox.RETRY_INTERVAL_S
    call_timeout_s = CALL_TIMEOUT_S

    def __init__(
        self,
        manager: UpstreamManager,
        charge_point: BridgeChargePoint,
        settings: UpstreamSettings,
    ) -> None:
        self.manager = manager
        self.bridge = manager.bridge
        self.charge_point: BridgeChargePoint | None = charge_point  # None: the charger is away
        charger = charge_point.charger
        self.charger_id = charger.pk
        self.installation_id = charger.installation_id
        self.identity = charger.ocpp_identity
        self.presented = settings.presented_identity(charger)
        self.url = settings.connect_url(charger)
        self.settings = settings
        self.boot_payload = _boot_payload(charger.boot_info, charger)
        self.upstream: UpstreamChargePoint | None = None
        self.accepted = False  # upstream accepted our BootNotification on this connection
        self.state = LinkState.CONNECTING
        self.reason = ""
        self.boot_status = ""
        self.interval_s: int | None = None
        self._live: deque[tuple[str, dict[str, Any]]] = deque(maxlen=LIVE_QUEUE)
        self._wake = asyncio.Event()
        self._queue_dirty = True  # the durable queue may hold something: read it
        self._in_sync = False  # every unsent row of the queue is known to the link (delivery)
        self._memory: deque[outbox.Pending] = deque()  # MeterValues handed over, to send
        self._vouched: dict[str, float] = {}  # idTag -> until (monotonic): upstream accepted it
        self._remote_started: dict[str, float] = {}  # idTag -> until: upstream started it
        self._last_meter_values: dict[int, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._attempt = 0
        self._retry_now = asyncio.Event()  # set: leave the backoff wait now
        self._retry_handle: asyncio.TimerHandle | None = None
        self.sent = 0  # messages upstream answered
        self._status_fields: dict[str, Any] = {}

    # --- life -------------------------------------------------------------------------------

    def start(self) -> None:
        self._note_state(LinkState.CONNECTING, "")
        self._task = asyncio.create_task(self._run(), name=f"upstream-{self.identity}")

    async def close(self) -> None:
        """Close the upstream connection and stop reconnecting."""
        self._closing = True
        self._wake.set()
        if self.upstream is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.upstream._connection.close(), 5)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def ready(self) -> bool:
        """Connected (the connection not closed) and accepted: messages may go upstream."""
        upstream = self.upstream
        return (
            upstream is not None
            and self.accepted
            and not self._closing
            and not upstream.closed.done()
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._guarded(coroutine, name), name=f"upstream-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        try:
            await coroutine
        except (asyncio.CancelledError, ConnectionClosed):
            raise
        except Exception:
            logger.exception("%s: upstream %s failed", self.identity, name)

    async def _run(self) -> None:
        """Connect, serve, and reconnect with exponential backoff and full jitter, until closed."""
        while not self._closing:
            try:
                await self._connect_and_serve()
            except asyncio.CancelledError:
                raise
            except UnsafeUpstream as unsafe:
                self._note_state(LinkState.REFUSED, f"not connected: {unsafe}")
            except InvalidStatus as refused:
                status = refused.response.status_code
                self._note_state(
                    LinkState.REFUSED, f"upstream refused the connection (HTTP {status})"
                )
            except (OSError, TimeoutError, InvalidHandshake) as error:
                self._note_state(LinkState.UNREACHABLE, _describe(error))
            except (ConnectionClosed, UpstreamUnavailable):
                self._note_state(LinkState.UNREACHABLE, "upstream closed the connection")
            except Exception as error:  # never let a link take anything else down
                logger.exception("%s: upstream link failed", self.identity)
                self._note_state(LinkState.UNREACHABLE, _describe(error))
            finally:
                self.upstream = None
                self.accepted = False
            if self._closing:
                break
            self._attempt += 1
            ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** min(self._attempt, 20))
            await self._back_off(random.uniform(0, ceiling))

    async def _back_off(self, seconds: float) -> None:
        """Wait ``seconds`` before the next attempt, or less: until ``retry_soon`` says the
        central system is back."""
        self._retry_now.clear()
        self.manager.backing_off(self, True)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retry_now.wait(), seconds)
        finally:
            self.manager.backing_off(self, False)
            if self._retry_handle is not None:
                self._retry_handle.cancel()
                self._retry_handle = None

    def retry_soon(self, within_s: float) -> None:
        """Another link reached this link's central system: if this one waits in backoff, it
        tries again within ``within_s`` seconds (a random moment: the links spread out)."""
        if self._retry_handle is None and not self._retry_now.is_set():
            delay = random.uniform(0, within_s)
            self._retry_handle = asyncio.get_running_loop().call_later(delay, self._retry_now.set)

    @property
    def origin(self) -> tuple[str, str, int]:
        """The central system this link connects to: scheme, host, port."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        return parts.scheme, (parts.hostname or "").lower(), port

    async def _connect_and_serve(self) -> None:
        headers: dict[str, str] = {}
        settings = self.settings
        if settings.security_profile in (SecurityProfile.BASIC, SecurityProfile.TLS_BASIC):
            token = base64.b64encode(f"{self.presented}:{settings.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        context = _tls_context(settings) if self.url.startswith("wss://") else None
        self._note_state(LinkState.CONNECTING, "")
        # The SSRF guard at every connect, as at save: DNS answers change. The websocket then
        # runs over a socket to the very addresses checked (no rebinding between the two).
        try:
            destination = await asyncio.to_thread(
                egress.resolve,
                self.url,
                allow_local=django_settings.UPSTREAM_ALLOW_LOCAL,
                purpose=egress.UPSTREAM,
            )
        except egress.UnsafeDestination as error:
            raise UnsafeUpstream(str(error)) from None
        sock = await asyncio.to_thread(egress.pinned_socket, destination, 10)
        try:
            await self._serve(sock, destination, context, headers)
        finally:
            sock.close()  # a failed handshake leaves it to us (closing twice does nothing)

    async def _serve(
        self,
        sock: Any,
        destination: egress.Destination,
        context: ssl.SSLContext | None,
        headers: dict[str, str],
    ) -> None:
        async with connect(
            self.url,
            sock=sock,
            server_hostname=destination.host if context else None,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
            ssl=context,
            open_timeout=10,
            ping_interval=30,
            ping_timeout=30,
            compression=None,
            max_size=2**20,
        ) as websocket:
            if websocket.subprotocol != SUBPROTOCOL:
                self._note_state(LinkState.REFUSED, "upstream did not agree to ocpp1.6")
                return
            upstream = self.upstream = UpstreamChargePoint(self, websocket)
            self.manager.reached(self)  # the others waiting for this central system: soon
            reader = self._spawn(self._read(upstream), "reader")
            try:
                await self._boot()
                self._attempt = 0
                self._spawn(self._heartbeat(), "heartbeat")
                await self._resend_statuses()
                await self._deliver()
            finally:
                reader.cancel()
                upstream.closed.cancel()  # (done already if the connection has closed)

    async def _read(self, upstream: UpstreamChargePoint) -> None:
        """Upstream's frames: answers to our calls at once, its calls each in a task of its own
        (a command waits for the charger's answer; our answers must not wait behind it)."""
        async for raw in upstream._connection:
            if _is_call(raw):
                self.received(_action_of(raw))
                self._spawn(upstream.route_message(raw), "inbound call")
            else:
                await upstream.route_message(raw)

    async def _boot(self) -> None:
        """BootNotification until upstream accepts it (Pending/Rejected: after its interval)."""
        while True:
            answer = await self.call("BootNotification", self.boot_payload, require_accepted=False)
            status = answer.get("status")
            interval = answer.get("interval")
            self.interval_s = interval if isinstance(interval, int) and interval > 0 else None
            self.boot_status = str(status)
            if status == "Accepted":
                self.accepted = True
                self._note_state(LinkState.CONNECTED, "")
                self.manager.emit(self, "upstream.connected")
                return
            if status == "Pending":
                self._note_state(LinkState.PENDING, "upstream answered the boot Pending")
            else:
                self._note_state(LinkState.REFUSED, f"upstream answered the boot {status}")
            await asyncio.sleep(self.interval_s or DEFAULT_INTERVAL_S)

    async def _heartbeat(self) -> None:
        while self.ready:
            await asyncio.sleep(self.interval_s or DEFAULT_INTERVAL_S)
            if not self.ready:
                return
            if self.charge_point is None and await self._taken_over():
                self.manager.drop(self, "the charger connected to another bridge node")
                return
            try:
                await self.call("Heartbeat", {})
            except (UpstreamUnavailable, TimeoutError):
                continue
            except Exception as error:
                logger.info("%s: upstream heartbeat: %s", self.identity, _describe(error))

    async def _taken_over(self) -> bool:
        """Whether another bridge node holds the charger now (its presence key says so)."""
        try:
            owner = await self.bridge.redis.get(PRESENCE_KEY.format(identity=self.identity))
        except Exception:
            return False
        return owner is not None and owner != self.bridge.node_id

    # --- calls --------------------------------------------------------------------------------

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        timeout_s: float | None = None,
        require_accepted: bool = True,
    ) -> Any:
        """One call to upstream and its answer payload (within ``timeout_s``, by default
        ``call_timeout_s``). ``UpstreamUnavailable`` when not connected (or,
        ``require_accepted``, not accepted); ``TimeoutError``; an ``OCPPError`` for upstream's
        CallError."""
        timeout_s = timeout_s or self.call_timeout_s
        upstream = self.upstream
        if upstream is None or (require_accepted and not self.accepted):
            raise UpstreamUnavailable(action)
        calling = asyncio.ensure_future(upstream.send_call(action, payload, timeout_s))
        try:
            done, _ = await asyncio.wait(
                {calling, upstream.closed}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not calling.done():
                calling.cancel()
                await asyncio.gather(calling, return_exceptions=True)
        if calling not in done:
            if upstream.closed.done():
                raise UpstreamUnavailable(action)
            raise TimeoutError(f"upstream did not answer {action} within {timeout_s} s")
        try:
            answer = calling.result()
        except ConnectionClosed:
            raise UpstreamUnavailable(action) from None
        self.sent += 1
        self._note_traffic("last_sent_at", "last_sent_action", action)
        return answer

    def received(self, action: str | None) -> None:
        if action is not None:
            self._note_traffic("last_received_at", "last_received_action", action)

    # --- status -----------------------------------------------------------------------------

    def _note_state(self, state: LinkState, reason: str) -> None:
        if state == self.state and reason == self.reason and self._status_fields:
            return
        previous = self.state
        self.state = state
        self.reason = reason
        self._status_fields.update(
            state=state,
            reason=reason[:300],
            since=_now(),
            node=self.bridge.node_id,
            boot_status=self.boot_status[:10],
            heartbeat_interval_s=self.interval_s,
        )
        self.manager.status_changed(self, urgent=True)
        if previous == LinkState.CONNECTED and state in (
            LinkState.UNREACHABLE,
            LinkState.REFUSED,
            LinkState.CONNECTING,
        ):
            self.manager.emit(self, "upstream.disconnected")
        if state == LinkState.REFUSED and previous != LinkState.REFUSED:
            self.manager.emit(self, "upstream.refused")  # once until it is accepted again

    def _note_traffic(self, at_field: str, action_field: str, action: str) -> None:
        self._status_fields[at_field] = _now()
        self._status_fields[action_field] = action[:40]
        self.manager.status_changed(self, urgent=False)

    def take_status(self) -> dict[str, Any]:
        fields, self._status_fields = self._status_fields, {}
        return fields


def _is_call(raw: str | bytes) -> bool:
    head = raw[:16] if isinstance(raw, str) else raw[:16].decode("utf-8", "replace")
    return head.lstrip().lstrip("[").lstrip().startswith("2")


def _action_of(raw: str | bytes) -> str | None:
    """The action of a call frame, for the link's status (None if it has none)."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return (
        frame[2]
        if isinstance(frame, list) and len(frame) > 2 and isinstance(frame[2], str)
        else None
    )


class UnsafeUpstream(Exception):
    """The upstream URL fails the SSRF guard now (``auth_access.egress``): not connected."""


def _tls_context(settings: UpstreamSettings) -> ssl.SSLContext:
    """Certificate verification (profile 2), against the custom CA when one is given."""
    context = ssl.create_default_context()
    if settings.ca_certificate.strip():
        context = ssl.create_default_context(cadata=settings.ca_certificate)
    return context
