"""One simulated OCPP-J 1.6 charge point: its connection, its outbox and its cars' visits.

The connection loop connects with HTTP Basic auth (identity / OCPP password), boots, reports
every connector's status, then heartbeats at the interval the central system gave. Everything
the charger says goes through one outbox, sent one Call at a time in order (OCPP allows one
outstanding Call); transaction messages (StartTransaction, MeterValues, StopTransaction) stay in
it while the charger is offline, with their own timestamps, and are replayed after it reconnects.
Other messages are dropped while offline (the status is reported afresh on reconnect).

The life loop runs whether connected or not: cars arrive, their drivers present a card, charge
within the limit in force (the failsafe current while offline), leave; meter values are sampled.
The central system's commands are answered in ``commands.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from ocpp_bridge.simulator.commands import OcppClient
from ocpp_bridge.simulator.configuration import Configuration
from ocpp_bridge.simulator.life import ChargingLife, Offline
from ocpp_bridge.simulator.settings import SimSettings, ocpp_time, utcnow
from ocpp_bridge.simulator.station import ChargerSpec, Station, Status
from ocpp_bridge.simulator.stats import Stats

log = logging.getLogger("ocpp_bridge.simulator")


def _expected(error: BaseException) -> bool:
    """A connection's end that needs no log: it closed, we were cancelled, or went offline."""
    if isinstance(error, BaseExceptionGroup):
        return all(_expected(inner) for inner in error.exceptions)
    return isinstance(error, (ConnectionClosed, asyncio.CancelledError, Offline, TimeoutError))


STABLE_CONNECTION_S = 60.0  # a connection held this long resets the reconnect backoff


@dataclass
class Outgoing:
    """A message waiting in the outbox; ``build`` makes its payload when its turn comes (so a
    replayed MeterValues carries the transaction id the central system gave meanwhile)."""

    build: Callable[[], Any]
    transactional: bool
    on_result: Callable[[Any], None] | None = None
    future: asyncio.Future[Any] | None = None
    attempts: int = 0


class SimulatedCharger(ChargingLife):
    """A charge point with cars, talking OCPP 1.6 to the central system at ``settings.url``."""

    def __init__(self, spec: ChargerSpec, settings: SimSettings, stats: Stats | None = None):
        self.spec = spec
        self.settings = settings
        self.stats = stats or Stats()
        # Separate random streams: the cars a seed gives do not depend on network timing.
        self.rng = random.Random(f"{settings.seed}:{spec.identity}:network")
        self.visits = random.Random(f"{settings.seed}:{spec.identity}:visits")
        failsafe = settings.failsafe_current_a
        self.config = Configuration(
            connectors=spec.connectors,
            phase_rotation=spec.phase_rotation,
            heartbeat_interval_s=settings.heartbeat_interval_s,
            meter_interval_s=settings.meter_interval_s,
            failsafe_current_a=spec.failsafe_current_a if failsafe is None else failsafe,
            ws_ping_interval_s=settings.ws_ping_interval_s,
        )
        for key, value in settings.extra.items():
            self.config.keys[key].value = value
        self.station = Station(
            spec,
            self.config,
            random.Random(f"{settings.seed}:{spec.identity}:meter"),
            voltage_v=settings.voltage_v,
            phase_labels=settings.phase_labels,
        )
        self.outbox: deque[Outgoing] = deque()
        self.client: OcppClient | None = None
        self.connection: ClientConnection | None = None
        self.need_boot = True
        self.boot_count = 0
        self.operative = True  # connector 0 (the whole charger)
        self.diagnostics_status = "Idle"
        self.firmware_status = "Idle"
        self.online_event = asyncio.Event()
        self._outbox_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # no Call in flight
        self._idle.set()
        self._paused = False  # the outbox holds its messages (going away on purpose)
        self._frozen = False  # no new cars, samples or messages (shutting down)
        self._stopping = False
        self._reconnect_at = 0.0
        self._reported: dict[int, str] = {}
        self._reporting = False  # statuses go out once the boot (if any) is done
        self._in_tick = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_mono = time.monotonic()
        self._next_aligned: float | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self, start_delay_s: float = 0.0) -> None:
        """Live until ``stop()``: cars and meter from now, the connection after ``start_delay_s``."""
        self._last_mono = time.monotonic()
        self._plan_initial_cars()
        life = self.spawn(self._life())
        try:
            await asyncio.sleep(start_delay_s)
            await self._connection_loop()
        finally:
            life.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background task of this charger, kept referenced and cancelled with it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            if not isinstance(error, (Offline, ConnectionClosed, OCPPError, TimeoutError)):
                log.error("%s: task failed", self.spec.identity, exc_info=error)

    async def stop(self) -> None:
        """Stop at once: close the connection, end every task."""
        self._stopping = True
        if self.connection is not None:
            await self.connection.close()

    async def shutdown(self, drain_timeout_s: float = 30.0) -> int:
        """Stop making new messages, send what is queued (up to the timeout), then stop.
        Returns how many transaction messages were still unsent."""
        self._frozen = True
        deadline = time.monotonic() + drain_timeout_s
        while self.outbox and self.online_event.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await self._idle.wait()
        await self.stop()
        return sum(1 for item in self.outbox if item.transactional)

    async def disconnect(self, reconnect_after_s: float) -> None:
        """Go away (storm, reboot): finish the Call in flight, close, come back after a delay."""
        self._reconnect_at = time.monotonic() + reconnect_after_s
        self._paused = True  # until the next connection's session starts
        await self._idle.wait()
        if self.connection is not None:
            await self.connection.close()

    # --- connection -----------------------------------------------------------------------------

    def url(self) -> str:
        return f"{self.settings.url.rstrip('/')}/{quote(self.spec.identity, safe='-._:~')}"

    async def _connection_loop(self) -> None:
        first, largest = self.settings.reconnect_s
        backoff = first
        credentials = f"{self.spec.identity}:{self.spec.password}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode()}
        ping = self.config.get_int("WebSocketPingInterval") or None
        while not self._stopping:
            delay = self._reconnect_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.stats.connect_attempts += 1
            try:
                connection = await connect(
                    self.url(),
                    subprotocols=[Subprotocol("ocpp1.6")],
                    additional_headers=headers,
                    compression=None,
                    proxy=None,
                    open_timeout=30,
                    ping_interval=ping,
                    ping_timeout=ping,
                    close_timeout=5,
                    user_agent_header=f"{self.spec.vendor}/{self.spec.model}",
                )
            except InvalidStatus as error:
                reason = f"HTTP {error.response.status_code}"
            except (OSError, TimeoutError, InvalidHandshake) as error:
                reason = type(error).__name__
            else:
                if connection.subprotocol != "ocpp1.6":
                    self.stats.connect_failures["no ocpp1.6 subprotocol"] += 1
                    await connection.close()
                else:
                    opened = time.monotonic()
                    await self._serve(connection)
                    if time.monotonic() - opened >= STABLE_CONNECTION_S:
                        backoff = first
                    # A central system that hung up on us soon after letting us in is struggling:
                    # come back later each time, as real chargers do, rather than add to a storm.
                    delay = backoff * self.rng.uniform(0.5, 1.0)
                    backoff = min(largest, backoff * 2)
                    self._reconnect_at = max(self._reconnect_at, time.monotonic() + delay)
                continue
            self.stats.connect_failures[reason] += 1
            log.debug("%s: connection failed (%s)", self.spec.identity, reason)
            await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.0))
            backoff = min(largest, backoff * 2)

    async def _serve(self, connection: ClientConnection) -> None:
        self._advance()
        self.connection = connection
        self.client = OcppClient(
            self, connection, response_timeout=self.settings.response_timeout_s
        )
        self.station.online = True
        self.stats.on_connect()
        self.online_event.set()
        receiver = asyncio.ensure_future(self.client.start())
        session = asyncio.ensure_future(self._session())
        try:
            await asyncio.wait({receiver, session}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiver, session):
                task.cancel()
            results = await asyncio.gather(receiver, session, return_exceptions=True)
            await connection.close()
            if not (self._paused or self._stopping):  # the central system closed it
                self.stats.server_closes[str(connection.close_code)] += 1
            self._advance()  # the draw up to now was under the online limits
            self.online_event.clear()
            self.station.online = False
            self.client = self.connection = None
            self._reporting = False
            self.stats.on_disconnect()
            self._forget_volatile()
            self._reported.clear()
            self._tick()
        for result in results:
            if isinstance(result, BaseException) and not _expected(result):
                log.error("%s: session failed", self.spec.identity, exc_info=result)

    async def _session(self) -> None:
        self._paused = False
        if self.need_boot or self.settings.boot_every_connection:
            await self._boot()
        self._reporting = True
        self.queue_status(None)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._drain())
            group.create_task(self._heartbeats())

    def boot_payload(self) -> call.BootNotification:
        return call.BootNotification(
            charge_point_model=self.spec.model,
            charge_point_vendor=self.spec.vendor,
            charge_point_serial_number=self.spec.serial_number or None,
            firmware_version=self.station.firmware_version,
            meter_type="SimMeter",
        )

    async def _boot(self) -> None:
        while True:
            try:
                result = await self._call(self.boot_payload())
            except (OCPPError, TimeoutError):
                await asyncio.sleep(30)
                continue
            self.on_boot_result(result)
            if result.status == "Accepted":
                self.need_boot = False
                self.boot_count += 1
                if self.firmware_status == "Installing":
                    self.firmware_status = "Installed"
                    self.enqueue(lambda: call.FirmwareStatusNotification(status="Installed"))
                return
            await asyncio.sleep(result.interval or 30)  # Pending or Rejected: ask again later

    def on_boot_result(self, result: Any) -> None:
        if result.status == "Accepted" and result.interval > 0:
            self.config.keys["HeartbeatInterval"].value = str(result.interval)

    async def _heartbeats(self) -> None:
        await asyncio.sleep(self.config.get_int("HeartbeatInterval") * self.rng.uniform(0.3, 1.0))
        while True:
            with contextlib.suppress(Offline, OCPPError, TimeoutError):
                await self.request(call.Heartbeat())
            await asyncio.sleep(max(1, self.config.get_int("HeartbeatInterval")))

    # --- the outbox ---------------------------------------------------------------------------

    async def _call(self, payload: Any) -> Any:
        """Send one Call and wait for its result; the only place that talks to the library."""
        action = type(payload).__name__
        if self.client is None:
            raise Offline(action)
        self._idle.clear()
        self.stats.sent[action] += 1
        started = time.perf_counter()
        try:
            result = await self.client.call(
                payload, suppress=False, skip_schema_validation=not self.settings.validate
            )
        except OCPPError:
            self.stats.errors[action] += 1
            raise
        except TimeoutError:
            self.stats.timeouts[action] += 1
            raise
        except (ConnectionClosed, asyncio.CancelledError):
            self.stats.interrupted[action] += 1
            raise
        finally:
            self._idle.set()
        self.stats.on_answer(action, time.perf_counter() - started)
        return result

    def enqueue(
        self,
        build: Callable[[], Any],
        *,
        transactional: bool = False,
        on_result: Callable[[Any], None] | None = None,
    ) -> Outgoing | None:
        """Queue a message; one that is not a transaction message is dropped while offline."""
        if not transactional and not self.online_event.is_set():
            return None
        item = Outgoing(build, transactional, on_result)
        self.outbox.append(item)
        self._outbox_ready.set()
        return item

    async def request(self, payload: Any) -> Any:
        """Send a message now (after what is queued) and return the central system's answer."""
        item = self.enqueue(lambda: payload)
        if item is None:
            raise Offline(type(payload).__name__)
        item.future = asyncio.get_running_loop().create_future()
        return await item.future

    def _forget_volatile(self) -> None:
        kept: deque[Outgoing] = deque()
        for item in self.outbox:
            if item.transactional:
                kept.append(item)
            elif item.future is not None and not item.future.done():
                item.future.set_exception(Offline("connection lost"))
        self.outbox = kept

    async def _drain(self) -> None:
        while True:
            if not self.outbox or self._paused:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            item = self.outbox[0]
            payload = item.build()
            if payload is None:  # e.g. a stop for a transaction the central system never started
                self.outbox.popleft()
                continue
            try:
                result = await self._call(payload)
            except (OCPPError, TimeoutError) as error:
                item.attempts += 1
                attempts = self.config.get_int("TransactionMessageAttempts")
                if item.transactional and item.attempts < max(1, attempts):
                    retry_s = self.config.get_int("TransactionMessageRetryInterval")
                    await asyncio.sleep(retry_s * item.attempts)
                    continue
                self.outbox.popleft()
                if item.transactional:
                    self.stats.dropped[type(payload).__name__] += 1
                if item.future is not None and not item.future.done():
                    item.future.set_exception(error)
                continue
            self.outbox.popleft()
            if item.on_result is not None:
                item.on_result(result)
            if item.future is not None and not item.future.done():
                item.future.set_result(result)

    def queue_status(self, connector_id: int | None, *, changed_only: bool = False) -> None:
        """StatusNotification for one connector (0: the charger) or, with None, all of them."""
        ids = [0, *self.station.connectors] if connector_id is None else [connector_id]
        for cid in ids:
            status = self.status_of(cid)
            if changed_only and self._reported.get(cid) == status:
                continue
            at = ocpp_time(utcnow())
            item = self.enqueue(
                lambda cid=cid, status=status, at=at: call.StatusNotification(
                    connector_id=cid, error_code="NoError", status=status, timestamp=at
                )
            )
            if item is not None:
                self._reported[cid] = status

    def status_of(self, connector_id: int) -> str:
        if connector_id == 0:
            return Status.AVAILABLE if self.operative else Status.UNAVAILABLE
        connector = self.station.connectors[connector_id]
        if connector.reservation is not None and connector.reservation.until <= utcnow():
            connector.reservation = None  # the charger drops an expired reservation itself
        return self.station.status_of(connector)

    # --- commands that take time ----------------------------------------------------------------

    async def reboot(self, reason: str, *, graceful: bool = True) -> None:
        """Reset (or a firmware install): end transactions, go away, come back and boot."""
        for connector in self.station.connectors.values():
            if connector.transaction is not None:
                self.stop_transaction(connector, reason)
        if graceful:
            deadline = time.monotonic() + 10
            while self.outbox and self.online_event.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        self.need_boot = True
        for connector in self.station.connectors.values():
            if connector.car is not None:  # still plugged: its driver presents the card again
                connector.finishing = False
                connector.unplug_at = None
                connector.swipe_at = time.monotonic() + self.settings.reboot_s + 5
        await self.disconnect(self.settings.reboot_s)

    async def upload_diagnostics(self) -> None:
        for status in ("Uploading", "Uploaded"):
            self.diagnostics_status = status
            with contextlib.suppress(Offline, OCPPError, TimeoutError):
                await self.request(call.DiagnosticsStatusNotification(status=status))
            await asyncio.sleep(1)
        self.diagnostics_status = "Idle"

    async def update_firmware(self, location: str, retrieve_at: float) -> None:
        await asyncio.sleep(max(0.0, retrieve_at - time.time()))
        for status in ("Downloading", "Downloaded", "Installing"):
            self.firmware_status = status
            with contextlib.suppress(Offline, OCPPError, TimeoutError):
                await self.request(call.FirmwareStatusNotification(status=status))
            await asyncio.sleep(1)
        name = location.rstrip("/").rsplit("/", 1)[-1]
        version = name.rsplit(".", 1)[0] if "." in name else ""
        if not version or not version[0].isdigit():
            major, _, patch = self.station.firmware_version.rpartition(".")
            version = f"{major}.{int(patch) + 1}" if patch.isdigit() else "1.0.1"
        self.station.firmware_version = version
        await self.reboot("Reboot")
