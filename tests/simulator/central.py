"""A tiny OCPP 1.6 central system for the simulator's tests: no Django, a real websocket.

It accepts known identities with their password (HTTP Basic, as the bridge does), answers the
charger's calls the simple way, records every call it received (snake_case kwargs), and lets the
test send commands, hang up on a charger, or refuse connections for a while.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Received:
    identity: str
    action: str
    payload: dict[str, Any]
    at: float


class RecordingChargePoint(ChargePoint):
    """The central system's side of one charger's connection."""

    def __init__(self, identity: str, connection: ServerConnection, central: CentralSystem):
        super().__init__(identity, connection, response_timeout=10)
        self.central = central

    def _record(self, action: str, payload: dict[str, Any]) -> None:
        self.central.received.append(Received(self.id, action, payload, time.monotonic()))

    @on(Action.boot_notification)
    def on_boot(self, **payload: Any) -> call_result.BootNotification:
        self._record("BootNotification", payload)
        return call_result.BootNotification(
            current_time=now_iso(),
            interval=self.central.heartbeat_interval_s,
            status=self.central.boot_status,
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **payload: Any) -> call_result.Heartbeat:
        self._record("Heartbeat", payload)
        return call_result.Heartbeat(current_time=now_iso())

    @on(Action.status_notification)
    def on_status(self, **payload: Any) -> call_result.StatusNotification:
        self._record("StatusNotification", payload)
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str, **payload: Any) -> call_result.Authorize:
        self._record("Authorize", {"id_tag": id_tag, **payload})
        return call_result.Authorize(id_tag_info={"status": self.central.tag_status(id_tag)})

    @on(Action.start_transaction)
    def on_start(self, id_tag: str, **payload: Any) -> call_result.StartTransaction:
        transaction_id = next(self.central.transaction_ids)
        self._record(
            "StartTransaction", {"id_tag": id_tag, "transaction_id": transaction_id, **payload}
        )
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": self.central.tag_status(id_tag)}
        )

    @on(Action.stop_transaction)
    def on_stop(self, **payload: Any) -> call_result.StopTransaction:
        self._record("StopTransaction", payload)
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(self, **payload: Any) -> call_result.MeterValues:
        self._record("MeterValues", payload)
        return call_result.MeterValues()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics(self, **payload: Any) -> call_result.DiagnosticsStatusNotification:
        self._record("DiagnosticsStatusNotification", payload)
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware(self, **payload: Any) -> call_result.FirmwareStatusNotification:
        self._record("FirmwareStatusNotification", payload)
        return call_result.FirmwareStatusNotification()

    @on(Action.data_transfer)
    def on_data_transfer(self, **payload: Any) -> call_result.DataTransfer:
        self._record("DataTransfer", payload)
        return call_result.DataTransfer(status="Accepted")


class CentralSystem:
    """Serve ``ws://127.0.0.1:<port>/ocpp/<identity>`` for the chargers in ``passwords``."""

    def __init__(self, passwords: dict[str, str], *, heartbeat_interval_s: int = 60) -> None:
        self.passwords = passwords
        self.heartbeat_interval_s = heartbeat_interval_s
        self.boot_status = "Accepted"
        self.rejected_tags: set[str] = set()
        self.refusing = False  # answer 503 to every connection attempt
        self.received: list[Received] = []
        self.refused: list[tuple[str, int]] = []
        self.charge_points: dict[str, RecordingChargePoint] = {}
        self.transaction_ids = itertools.count(1001)
        self.server: Server | None = None
        self.url = ""

    def tag_status(self, id_tag: str) -> str:
        return "Invalid" if id_tag in self.rejected_tags else "Accepted"

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = request.path.rstrip("/").rsplit("/", 1)[-1]
        if self.refusing:
            self.refused.append((identity, 503))
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Try later\n")
        header = request.headers.get("Authorization", "")
        expected = self.passwords.get(identity)
        given = base64.b64decode(header.removeprefix("Basic ")).decode() if header else ""
        if expected is None or given != f"{identity}:{expected}":
            self.refused.append((identity, 401))
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        identity = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        charge_point = RecordingChargePoint(identity, connection, self)
        self.charge_points[identity] = charge_point
        try:
            await charge_point.start()
        except ConnectionClosed:
            pass
        finally:
            if self.charge_points.get(identity) is charge_point:
                del self.charge_points[identity]

    async def __aenter__(self) -> CentralSystem:
        self.server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            process_request=self._check,
            compression=None,
        )
        port = next(iter(self.server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ocpp"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    # --- for the tests ------------------------------------------------------------------------

    def calls(self, action: str, identity: str | None = None) -> list[dict[str, Any]]:
        return [
            r.payload
            for r in self.received
            if r.action == action and (identity is None or r.identity == identity)
        ]

    async def wait_for(
        self, condition: Callable[[], Any], timeout_s: float = 10.0, what: str = ""
    ) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or condition}")

    async def command(self, identity: str, payload: Any) -> Any:
        """Send a command to a connected charger; return its answer (CallError raises)."""
        charge_point = await self.wait_for(
            lambda: self.charge_points.get(identity), what=f"{identity} connected"
        )
        return await charge_point.call(payload, suppress=False)

    async def hang_up(self, identity: str) -> None:
        charge_point = self.charge_points.get(identity)
        if charge_point is not None:
            await charge_point._connection.close()
