"""A real third-party OCPP-J 1.6 central system for the upstream bridge's tests.

Written with the ``ocpp`` library's central-system side (``ocpp.v16.ChargePoint`` with ``@on``
handlers) over ``websockets.serve``, as an integrator's system would be. It is strict:

- the library validates every call against the OCPP 1.6 schemas (a violation gets the library's
  CallError and is recorded in ``violations``), and the answers to the calls it sends;
- OCPP ordering is checked where it can be: no request before a BootNotification was Accepted
  on the connection (OCPP 1.6 4.2; while Pending/Rejected nothing but a BootNotification, unless
  a TriggerMessage asked), no StopTransaction or transaction MeterValues for a transaction id it
  never assigned, no second StopTransaction for one transaction, transaction messages of one
  charge point in the order of its transactions (OCPP 1.6 4.7).

It records every call it receives, in arrival order per charge point (``received``: action and
camelCase payload), answers as configured (``boot``: a list of statuses used in turn per charge
point, then ``boot_status``; ``id_tags``: Authorize statuses per idTag; transaction ids from
``next_transaction_id``), checks HTTP Basic credentials when ``passwords`` names the identity,
can leave actions unanswered (``silent``) or answer them with a CallError a number of times
(``refuse``), can send calls to a connected charge point and await the answer (``call``,
``send_raw``), and can be stopped and started again on the same port.

Tests are sync code: every public method is called from the test's thread and runs on the
central system's own loop thread (``tests.ocpp.conftest.LoopThread``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http
import itertools
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from ocpp.messages import CallError, CallResult
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.ocpp.conftest import LoopThread

ALLOWED_BEFORE_ACCEPTED = {Action.boot_notification.value}
TRANSACTION_ACTIONS = {"StartTransaction", "StopTransaction", "MeterValues"}


@dataclass
class Received:
    """A call the central system received: when, from whom, what."""

    identity: str
    action: str
    payload: dict[str, Any]
    at: float  # time.monotonic()
    unique_id: str = ""


@dataclass
class ChargePointState:
    """What the central system knows of one charge point across its connections."""

    boot_plan: list[str] = field(default_factory=list)
    accepted: bool = False  # on the current connection
    triggered: set[str] = field(default_factory=set)  # actions a TriggerMessage asked for
    connections: int = 0
    open_transactions: set[int] = field(default_factory=set)
    stopped_transactions: set[int] = field(default_factory=set)


class CentralChargePoint(ChargePoint):
    """The central system's side of one charge point's connection."""

    def __init__(self, identity: str, connection: ServerConnection, central: Central) -> None:
        super().__init__(identity, connection, response_timeout=10)
        self.central = central
        self.state = central.state(identity)

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            frame = json.loads(raw_msg)
        except ValueError:
            self.central.violate(self.id, f"not JSON: {raw_msg!r}")
            frame = None
        if isinstance(frame, list) and len(frame) >= 4 and frame[0] == 2:
            self._check_order(frame[2], frame[3])
            self.central.record(Received(self.id, frame[2], frame[3], time.monotonic(), frame[1]))
            if frame[2] in self.central.silent:
                return  # a hung upstream: the call is never answered
        await super().route_message(raw_msg)

    async def _handle_call(self, msg: Any) -> Any:
        try:
            refusals = self.central.refuse.get(msg.action, 0)
            if refusals > 0:  # told to refuse it: a CallError, not a violation
                self.central.refuse[msg.action] = refusals - 1
                await self._send(
                    CallError(msg.unique_id, "InternalError", "refused by the test", {}).to_json()
                )
                return None
            return await super()._handle_call(msg)
        except ConnectionClosed:
            raise  # the answer could not go out: the connection ended (the test stopped us)
        except Exception as error:
            self.central.violate(self.id, f"{msg.action} refused: {error!r}")
            raise

    def _check_order(self, action: str, payload: Any) -> None:
        state = self.state
        if not state.accepted and action not in ALLOWED_BEFORE_ACCEPTED:
            if action in state.triggered:
                state.triggered.discard(action)
            else:
                self.central.violate(self.id, f"{action} before an accepted BootNotification")
        if not isinstance(payload, dict):
            return
        tx = payload.get("transactionId")
        if action == "StopTransaction":
            if tx in state.stopped_transactions:
                self.central.violate(self.id, f"second StopTransaction for {tx}")
            elif tx not in state.open_transactions:
                self.central.violate(self.id, f"StopTransaction for unknown transaction {tx}")
        known = state.open_transactions | state.stopped_transactions
        if action == "MeterValues" and tx is not None and tx not in known:
            self.central.violate(self.id, f"MeterValues for unknown transaction {tx}")

    # --- charge point -> central system ---------------------------------------------------

    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: Any) -> call_result.BootNotification:
        plan = self.state.boot_plan
        status = plan.pop(0) if plan else self.central.boot_status
        self.state.accepted = status == "Accepted"
        return call_result.BootNotification(
            current_time=_now(), interval=self.central.interval, status=status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        status = self.central.id_tags.get(id_tag, self.central.id_tag_status)
        return call_result.Authorize(id_tag_info={"status": status})

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **kwargs: Any) -> call_result.StartTransaction:
        tx = next(self.central.transaction_ids)
        self.state.open_transactions.add(tx)
        status = self.central.id_tags.get(id_tag, self.central.id_tag_status)
        return call_result.StartTransaction(transaction_id=tx, id_tag_info={"status": status})

    @on(Action.stop_transaction)
    def on_stop_transaction(
        self, transaction_id: int, **kwargs: Any
    ) -> call_result.StopTransaction:
        self.state.open_transactions.discard(transaction_id)
        self.state.stopped_transactions.add(transaction_id)
        return call_result.StopTransaction()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(**self.central.data_transfer_answer)

    @on(Action.firmware_status_notification)
    def on_firmware_status(self, status: str) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status(self, status: str) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Central:
    """The test central system: ``start()``, ``stop()``, ``start()`` again on the same port."""

    def __init__(self, *, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.thread = LoopThread("test-central")
        self.port = port
        self.ssl_context = ssl_context
        self.server: Server | None = None
        # Configurable answers.
        self.boot_status = "Accepted"
        self.interval = 300
        self.id_tag_status = "Accepted"
        self.id_tags: dict[str, str] = {}
        self.transaction_ids = itertools.count(9001)
        self.data_transfer_answer: dict[str, Any] = {"status": "Accepted", "data": "upstream"}
        self.passwords: dict[str, str] = {}  # identity -> password: HTTP Basic required
        self.refuse_upgrades = False  # answer every upgrade 503 (an upstream in maintenance)
        self.silent: set[str] = set()  # actions never answered (a hung upstream)
        self.refuse: dict[str, int] = {}  # action -> how many more to answer with a CallError
        # What happened.
        self.received: list[Received] = []
        self.violations: list[str] = []
        self.refused: list[tuple[str, int]] = []  # (identity, HTTP status)
        self.states: dict[str, ChargePointState] = {}
        self.connected: dict[str, CentralChargePoint] = {}

    # --- life -------------------------------------------------------------------------------

    def start(self) -> Central:
        self.thread.run(self._start())
        return self

    async def _start(self) -> None:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            self.port,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            process_request=self._admit,
            ssl=self.ssl_context,
            ping_interval=None,
        )
        self.port = self.server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop listening and drop every connection (the port stays this central's)."""
        self.thread.run(self._stop())

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()
            self.server = None
        self.connected.clear()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        self.thread.close()

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        host = "localhost" if self.ssl_context else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/ocpp"

    # --- connections ------------------------------------------------------------------------

    def state(self, identity: str) -> ChargePointState:
        return self.states.setdefault(identity, ChargePointState())

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = request.path.rstrip("/").rsplit("/", 1)[-1]
        if self.refuse_upgrades:
            return self._refuse(connection, identity, http.HTTPStatus.SERVICE_UNAVAILABLE)
        if "ocpp1.6" not in request.headers.get("Sec-WebSocket-Protocol", ""):
            self.violate(identity, "upgrade without the ocpp1.6 subprotocol")
            return self._refuse(connection, identity, http.HTTPStatus.BAD_REQUEST)
        expected = self.passwords.get(identity)
        if expected is not None and _basic(request) != (identity, expected):
            return self._refuse(connection, identity, http.HTTPStatus.UNAUTHORIZED)
        return None

    def _refuse(
        self, connection: ServerConnection, identity: str, status: http.HTTPStatus
    ) -> Response:
        self.refused.append((identity, int(status)))
        return connection.respond(status, f"{status.phrase}\n")

    async def _handle(self, connection: ServerConnection) -> None:
        identity = connection.request.path.rstrip("/").rsplit("/", 1)[-1]  # type: ignore[union-attr]
        charge_point = CentralChargePoint(identity, connection, self)
        charge_point.state.accepted = False
        charge_point.state.connections += 1
        self.connected[identity] = charge_point
        try:
            await charge_point.start()
        except ConnectionClosed:
            pass
        finally:
            if self.connected.get(identity) is charge_point:
                del self.connected[identity]

    # --- records ----------------------------------------------------------------------------

    def record(self, message: Received) -> None:
        self.received.append(message)

    def violate(self, identity: str, what: str) -> None:
        self.violations.append(f"{identity}: {what}")

    def of(self, identity: str, *actions: str) -> list[Received]:
        """What ``identity`` sent, in arrival order (only ``actions`` if given)."""
        return [
            m
            for m in self.received
            if m.identity == identity and (not actions or m.action in actions)
        ]

    def actions(self, identity: str) -> list[str]:
        return [m.action for m in self.of(identity)]

    def is_connected(self, identity: str) -> bool:
        return identity in self.connected

    # --- central system -> charge point -----------------------------------------------------

    def call(self, identity: str, request: Any, timeout: float = 10) -> Any:
        """Send ``request`` (an ``ocpp.v16.call`` dataclass) and return the charge point's
        answer (a ``call_result`` dataclass; a CallError raises its ``OCPPError``)."""
        charge_point = self.connected[identity]
        if request.__class__.__name__ == "TriggerMessage":
            charge_point.state.triggered.add(request.requested_message)
        return self.thread.run(charge_point.call(request, suppress=False), timeout + 1)

    def send_raw(self, identity: str, frame: str | list[Any], timeout: float = 10) -> list[Any]:
        """Send any frame (text, or a list to encode) and return the reply frame, decoded. The
        frame's unique id (its second item) must be a string for the reply to be found."""
        charge_point = self.connected[identity]
        text = frame if isinstance(frame, str) else json.dumps(frame)
        try:
            unique_id = json.loads(text)[1]
        except (ValueError, IndexError, TypeError, KeyError):
            unique_id = "-1"

        async def exchange() -> CallResult | CallError:
            async with charge_point._call_lock:
                await charge_point._send(text)
                reply: CallResult | CallError = await charge_point._get_specific_response(
                    str(unique_id), timeout
                )
                return reply

        reply = self.thread.run(exchange(), timeout + 1)
        if isinstance(reply, CallError):
            return [
                4,
                reply.unique_id,
                reply.error_code,
                reply.error_description,
                reply.error_details,
            ]
        return [3, reply.unique_id, reply.payload]

    def disconnect(self, identity: str) -> None:
        """Close ``identity``'s connection from the central system's side."""
        charge_point = self.connected.get(identity)
        if charge_point is not None:
            self.thread.run(charge_point._connection.close())


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        username, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username, password
