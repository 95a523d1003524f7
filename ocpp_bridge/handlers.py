"""One charger's OCPP-J 1.6 session: the mobilityhouse ``ChargePoint`` with our handlers.

``framing.FrameRouter`` (the base class) replaces the library's message routing so that every bad
frame gets its CallError (with the OCPP 1.6 error codes) and nothing a charger sends can end the
connection.
``BridgeChargePoint`` holds the handlers: ``on_<action>`` methods returning ``call_result``
dataclasses, and ``@after`` hooks for work that need not delay the answer. No call goes to a
charger before it is accepted (OCPP 1.6 4.2): our Accepted answer to its BootNotification on this
connection, or a first request that is not a BootNotification (it reconnected without a reboot);
calls issued meanwhile wait (``until_accepted``) and then go out in the order they were issued.

Database work goes through ``bridge.db`` (the sync functions of ``persistence`` on the bridge's
thread pool), queued per charger: every write or query of a charger runs after its earlier ones,
so its messages are stored in the order it sent them, and what it queued meanwhile goes to a
thread in one hop; an answer only waits for the database when it needs a result from it
(Start/StopTransaction; Authorize goes to the bridge's batched decisions, ``batching.Decisions``,
outside the charger's order); the writes of @after hooks happen behind the answers.
Meter values go to the bridge's ``MeterBuffer``; presence and live state to its ``Presence``
writer. The hot path stays light: a Heartbeat touches memory only, MeterValues append to the
buffer, a repeated status is not stored again, and the Charger row, connector states and
sessions in progress are loaded once per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from ocpp.exceptions import (
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.messages import CallError, CallResult
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, DataTransferStatus, RegistrationStatus
from websockets.exceptions import ConnectionClosed

from auth_access import checks
from auth_access.choices import AuthorizationTrigger
from chargers.choices import EventKind, StopReason
from commands.payloads import MAX_NUMBER
from ocpp_bridge import persistence
from ocpp_bridge.framing import FrameRouter
from ocpp_bridge.meter_buffer import (
    DEFAULT_VOLTAGE_V,
    Readings,
    live_fields,
    merge_readings,
    parse_meter_values,
    parse_timestamp,
)
from ocpp_bridge.persistence import ActiveSession, StatusReport

if TYPE_CHECKING:
    from auth_access.decisions import Decision
    from chargers.models import Charger
    from ocpp_bridge.bridge import Bridge

logger = logging.getLogger(__name__)

# A connector reporting Available after these, with a session open, ended it unannounced.
IN_USE = frozenset({"Charging", "Finishing", "SuspendedEV", "SuspendedEVSE"})
# Older samples (a charger replaying what it measured offline) do not move the live state.
LIVE_HORIZON = timedelta(minutes=10)
# Writes a charger may have waiting before its next frame waits for them.
MAX_BACKLOG = 50
MAX_CALLS_PER_HOP = 20  # a charger's queued calls run together, up to this many per thread hop
R = TypeVar("R")

# --- helpers -------------------------------------------------------------------------------------


def run_in_turn(calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[tuple[bool, Any]]:
    """Run a charger's queued database calls one after the other, on a database thread:
    (True, result) or (False, exception) each; one failing does not stop the next."""
    outcomes: list[tuple[bool, Any]] = []
    for function, args in calls:
        try:
            outcomes.append((True, function(*args)))
        except Exception as error:
            outcomes.append((False, error))
    return outcomes


def now_utc() -> datetime:
    return datetime.now(UTC)


def ocpp_time(moment: datetime) -> str:
    """UTC, second precision, with a Z: the form every charger parses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(value: str | None, field: str) -> datetime:
    """A charger's timestamp (now when it gave none); TypeConstraintViolation when malformed."""
    if value is None:
        return now_utc()
    try:
        return parse_timestamp(value)
    except ValueError:
        raise TypeConstraintViolationError(
            details={"cause": f"{field}: {value!r} is not a date-time"}
        ) from None


def _storable_id_tag(id_tag: str) -> str:
    """``id_tag`` with each character no text column can hold (NUL, a lone surrogate: valid
    JSON escapes) replaced by U+FFFD, which no card number contains (so it matches no card)."""
    if id_tag.isascii() and "\x00" not in id_tag:
        return id_tag
    return "".join(
        "\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in id_tag
    )


def _authorizable_id_tag(id_tag: str) -> str:
    """Authorize: such an idTag is no card number, and refused before it reaches the database:
    PropertyConstraintViolation. (A Start/StopTransaction is stored with the idTag cleaned.)"""
    if _storable_id_tag(id_tag) != id_tag:
        raise PropertyConstraintViolationError(
            details={"cause": "idTag: contains a character that is not allowed"}
        )
    return id_tag


def _id_tag_info(decision: Decision) -> IdTagInfo:
    expiry = ocpp_time(decision.expires_at) if decision.expires_at else None
    return IdTagInfo(status=decision.status.value, expiry_date=expiry)


def registration_status(charger: Charger) -> RegistrationStatus:
    """How a BootNotification is answered: always Accepted. Only registered chargers with their
    password get this far (an unknown identity is refused at the upgrade), so Fusebox has no
    reason to answer Pending or Rejected; the rest of the bridge still honours either."""
    return RegistrationStatus.accepted


class BridgeChargePoint(FrameRouter):
    """A connected charger: what it says is answered, stored and published; commands go out."""

    def __init__(self, charger: Charger, connection: Any, bridge: Bridge) -> None:
        # Commands bound their own waiting time (Command.timeout_s), see call_with_deadline().
        super().__init__(charger.ocpp_identity, connection, response_timeout=24 * 3600)
        self.charger = charger
        self.bridge = bridge
        self.closed = asyncio.Event()
        self.connectors: dict[int, persistence.ReportedState] = {}
        self.active_sessions: dict[int, ActiveSession] = {}
        self.readings: dict[int, Readings] = {}
        self._published: dict[str, str] = {}  # live fields as last sent
        self._queued: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None  # takes _queued to the database
        self._backlog = 0  # writes behind, not done yet
        self._answers: dict[str, CallResult | CallError] = {}
        # Boot order: no call goes to the charger before it is accepted (see _accept()).
        self.accepted = False
        self._boot_seen = False  # a valid BootNotification was answered on this connection
        self._boot_status = RegistrationStatus.accepted  # what its BootNotification was told
        self._waiting: list[tuple[int, asyncio.Future[bool]]] = []  # calls held until accepted

    # --- connection life --------------------------------------------------------------------

    async def serve(self) -> None:
        """Answer frames until the connection closes."""
        try:
            async for message in self._connection:
                self.bridge.messages += 1
                self.bridge.presence.touch(self.id, self.charger.pk)
                if not self.accepted:
                    self._note_before_acceptance(message)
                await self.route_message(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._release_waiting(False)

    # --- boot order: nothing is sent before the charger is accepted (OCPP 1.6 4.2) -----------

    def _note_before_acceptance(self, raw: str | bytes) -> None:
        """Until accepted: a charger whose first request on this connection is not a
        BootNotification reconnected without rebooting, and was accepted at an earlier boot (a
        charge point sends nothing else before its boot is accepted), so it is accepted now.
        After a BootNotification we answered (Pending or Rejected: ``on_boot_notification``)
        only our Accepted answer accepts it (``after_boot_notification``); one we refused with a
        CallError (malformed) was not answered, so it decides nothing."""
        try:
            frame = json.loads(raw)
        except ValueError:
            return  # answered with a CallError by the router; no evidence either way
        if not (isinstance(frame, list) and len(frame) > 2 and frame[0] == 2):
            return
        if frame[2] != Action.boot_notification and not self._boot_seen:
            self._accept()

    def _accept(self) -> None:
        """The charger is accepted: calls held meanwhile go out, in the order they were issued
        (command id); the library sends one call at a time, in the order they ask."""
        self.accepted = True
        self._release_waiting(True)

    def _release_waiting(self, accepted: bool) -> None:
        waiting, self._waiting = sorted(self._waiting, key=lambda item: item[0]), []
        for _, future in waiting:
            if not future.done():
                future.set_result(accepted)

    async def until_accepted(self, order: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the charger is accepted; False if it was not in
        time or the connection closed. ``order`` (the command id) decides who goes first."""
        if self.accepted:
            return True
        if self.closed.is_set():
            return False
        entry = (order, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            return await asyncio.wait_for(entry[1], timeout_s)
        except TimeoutError:
            return False
        finally:
            if entry in self._waiting:
                self._waiting.remove(entry)

    def load(self, state: persistence.ConnectedState) -> None:
        self.connectors = dict(state.connectors)
        self.active_sessions = dict(state.active_sessions)

    def connectors_json(self) -> dict[str, str]:
        return {str(cid): state.status for cid, state in sorted(self.connectors.items())}

    # --- database work, in the charger's order ---------------------------------------------

    def _store(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``function(*args)`` for the database, after all this charger's earlier calls.
        What a charger queued meanwhile goes to a database thread in one hop (a booting charger
        queues several writes: one wait for a thread, not one each behind the others')."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued.append((function, args, future))
        if self._runner is None:
            self._runner = self.bridge.track(asyncio.create_task(self._run_queued()))
        return future

    async def _run_queued(self) -> None:
        try:
            while self._queued:
                batch = self._queued[:MAX_CALLS_PER_HOP]
                del self._queued[:MAX_CALLS_PER_HOP]
                calls = [(function, args) for function, args, _ in batch]
                try:
                    outcomes = await self.bridge.db(run_in_turn, calls)
                except BaseException as error:  # cancelled, or the threads are gone
                    for *_, future in batch:
                        if future.done():
                            continue
                        if isinstance(error, asyncio.CancelledError):
                            future.cancel()
                        else:
                            future.set_exception(error)
                    raise
                for (*_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._runner = None

    async def _in_order(self, function: Callable[..., R], *args: Any) -> R:
        """A database call whose result the answer needs, after the writes before it."""
        result: R = await self._store(function, *args)
        return result

    async def _write_behind(self, function: Callable[..., Any], *args: Any) -> None:
        """A write the answer does not wait for (failures are logged). Only when a charger
        runs far ahead of the database does its next frame wait."""
        future = self._store(function, *args)
        future.add_done_callback(self._log_failure)
        self._backlog += 1
        future.add_done_callback(self._written)
        if self._backlog > MAX_BACKLOG:
            await asyncio.wait([future])

    def _written(self, future: asyncio.Future[Any]) -> None:
        self._backlog -= 1

    def _log_failure(self, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("%s: storing failed", self.id, exc_info=future.exception())

    # --- charger -> central system ----------------------------------------------------------

    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: Any) -> call_result.BootNotification:
        self._boot_seen = True  # a valid BootNotification, answered below
        self._boot_status = registration_status(self.charger)
        return call_result.BootNotification(
            current_time=ocpp_time(now_utc()),
            interval=settings.OCPP_HEARTBEAT_INTERVAL_S,
            status=self._boot_status,
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **kwargs: Any) -> None:
        if self._boot_status != RegistrationStatus.accepted:
            return  # Pending/Rejected: nothing is sent, recorded or closed until it is accepted
        self._accept()
        booted_at = now_utc()
        await self._write_behind(
            persistence.record_boot, self.charger.pk, self.current_payload, booted_at
        )
        # A reboot ended whatever was in progress; a StopTransaction arriving later corrects it.
        await self._close_inferred(StopReason.REBOOT, booted_at)
        # Authorization cache and Local Authorization List, set up by a worker (auth_access).
        await self._write_behind(persistence.boot_access_hooks, self.charger.pk)

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=ocpp_time(now_utc()))

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, timestamp: str | None = None, **kwargs: Any
    ) -> call_result.StatusNotification:
        if connector_id < 0:
            raise PropertyConstraintViolationError(details={"cause": "connectorId is negative"})
        _timestamp(timestamp, "timestamp")
        return call_result.StatusNotification()

    @after(Action.status_notification)
    async def after_status_notification(
        self,
        connector_id: int,
        error_code: str,
        status: str,
        timestamp: str | None = None,
        info: str | None = None,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
    ) -> None:
        report = StatusReport(
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            timestamp=_timestamp(timestamp, "timestamp"),
            info=info or "",
            vendor_id=vendor_id or "",
            vendor_error_code=vendor_error_code or "",
        )
        previous = self.connectors.get(connector_id)
        self.connectors[connector_id] = report.state()
        if previous == report.state() and error_code == "NoError":
            return  # a repeat (chargers repeat their statuses after a reconnect): nothing new
        changed = previous is None or previous.status != status
        if changed:
            live = {"connectors": self.connectors_json()}
            self.bridge.presence.update_live(self.charger.pk, live)
        in_session = connector_id in self.active_sessions
        await self._write_behind(
            persistence.record_status, self.charger.pk, report, changed, in_session
        )
        if in_session and status == "Available" and previous and previous.status in IN_USE:
            # The car left without a StopTransaction: the session ended now, at the latest.
            await self._close_inferred(StopReason.EV_DISCONNECTED, report.timestamp, connector_id)

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        _authorizable_id_tag(id_tag)
        asked = checks.Asked(self.charger.pk, id_tag, AuthorizationTrigger.AUTHORIZE)
        check = await self.bridge.decisions.ask(asked)
        # An external authorizer is asked here, in the loop: no database thread waits for it.
        decision = await checks.conclude(check, self._write_behind)
        return call_result.Authorize(id_tag_info=_id_tag_info(decision))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> call_result.StartTransaction:
        if not 1 <= connector_id <= persistence.MAX_CONNECTOR_ID:
            raise PropertyConstraintViolationError(
                details={"cause": f"connectorId must be 1 to {persistence.MAX_CONNECTOR_ID}"}
            )
        if reservation_id is not None and abs(reservation_id) > MAX_NUMBER:
            raise PropertyConstraintViolationError(
                details={"cause": "reservationId is not a 32-bit integer"}
            )
        outcome = await self._in_order(
            persistence.start_transaction,
            self.charger.pk,
            connector_id,
            _storable_id_tag(id_tag),
            meter_start,
            _timestamp(timestamp, "timestamp"),
            reservation_id,
        )
        self.active_sessions[connector_id] = ActiveSession(outcome.transaction_id, meter_start)
        self.readings.pop(connector_id, None)
        self._publish_readings()
        decision = outcome.decision
        if outcome.check is not None:
            decision = await checks.conclude(outcome.check, self._write_behind)
        return call_result.StartTransaction(
            transaction_id=outcome.transaction_id, id_tag_info=_id_tag_info(decision)
        )

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> call_result.StopTransaction:
        stopped_at = _timestamp(timestamp, "timestamp")
        rows: list[persistence.MeterRow] = []
        connector_hint = next(
            (c for c, s in self.active_sessions.items() if s.transaction_id == transaction_id), 0
        )
        if transaction_data:
            rows, _ = self._parse_meters(connector_hint, transaction_id, transaction_data)
        outcome = await self._in_order(
            persistence.stop_transaction,
            self.charger.pk,
            transaction_id,
            meter_stop,
            stopped_at,
            reason,
            None if id_tag is None else _storable_id_tag(id_tag),
        )
        if not outcome.found:
            logger.warning(
                "%s: StopTransaction for unknown transaction %s", self.id, transaction_id
            )
        connector_id = outcome.connector_id or connector_hint
        if transaction_data and not outcome.repeated:
            if connector_id != connector_hint:  # the session's own connector, now we know it
                rows, _ = self._parse_meters(connector_id, transaction_id, transaction_data)
            self.bridge.meters.add(rows)
        for cid, session in list(self.active_sessions.items()):
            if session.transaction_id == transaction_id:
                del self.active_sessions[cid]
                self.readings.pop(cid, None)
        self._publish_readings()
        info = _id_tag_info(outcome.decision) if outcome.decision else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.meter_values)
    def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
    ) -> call_result.MeterValues:
        if not 0 <= connector_id <= persistence.MAX_CONNECTOR_ID:
            raise PropertyConstraintViolationError(
                details={"cause": f"connectorId must be 0 to {persistence.MAX_CONNECTOR_ID}"}
            )
        rows, readings = self._parse_meters(connector_id, transaction_id, meter_value)
        session = self.active_sessions.get(connector_id)
        tx = transaction_id if transaction_id is not None else (session and session.transaction_id)
        registers = [(r.timestamp, r.register_wh) for r in readings if r.register_wh is not None]
        register = (self.charger.pk, tx, *max(registers)) if tx and registers else None
        self.bridge.meters.add(rows, register)
        horizon = now_utc() - LIVE_HORIZON
        fresh = [r for r in readings if r.timestamp >= horizon]
        if fresh and connector_id:
            self.readings[connector_id] = merge_readings(self.readings.get(connector_id), fresh)
            self._publish_readings()
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @after(Action.data_transfer)
    async def after_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> None:
        summary = f"Data transfer from {vendor_id}" + (f" ({message_id})" if message_id else "")
        await self._event(EventKind.DATA_TRANSFER, summary)

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(
        self, status: str
    ) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @after(Action.diagnostics_status_notification)
    async def after_diagnostics_status_notification(self, status: str) -> None:
        await self._event(EventKind.DIAGNOSTICS, f"Diagnostics upload: {status}")

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(
        self, status: str
    ) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @after(Action.firmware_status_notification)
    async def after_firmware_status_notification(self, status: str) -> None:
        await self._event(EventKind.FIRMWARE, f"Firmware update: {status}")

    # --- helpers ----------------------------------------------------------------------------

    async def _close_inferred(
        self, reason: StopReason, evidence_at: datetime, connector_id: int | None = None
    ) -> None:
        """Close sessions the charger ended without a StopTransaction (``persistence
        .close_inferred``), with the last energy register this connection holds in memory (its
        meter values may still wait in the buffer)."""
        ended = [cid for cid in self.active_sessions if connector_id is None or cid == connector_id]
        if not ended:
            return
        registers = {}
        for cid in ended:
            del self.active_sessions[cid]
            reading = self.readings.pop(cid, None)
            if reading is not None and reading.register_wh is not None:
                registers[cid] = (reading.timestamp, reading.register_wh)
        self._publish_readings()
        await self._write_behind(
            persistence.close_inferred,
            self.charger.pk,
            reason,
            evidence_at,
            connector_id,
            None,
            registers,
        )

    async def _event(self, kind: EventKind, summary: str) -> None:
        await self._write_behind(
            persistence.record_event,
            self.charger.pk,
            kind,
            now_utc(),
            summary,
            self.current_payload,
        )

    def _parse_meters(
        self, connector_id: int, transaction_id: int | None, entries: list[dict[str, Any]]
    ) -> tuple[list[persistence.MeterRow], list[Readings]]:
        charger = self.charger
        installation = charger._state.fields_cache.get("installation")  # loaded with the charger
        voltage = float(installation.voltage_v) if installation else DEFAULT_VOLTAGE_V
        try:
            return parse_meter_values(
                charger.pk,
                connector_id,
                transaction_id,
                entries,
                phases=charger.allocated_phases or charger.phases,
                voltage_v=voltage,
            )
        except ValueError as error:
            raise TypeConstraintViolationError(details={"cause": f"timestamp: {error}"}) from None

    def _publish_readings(self) -> None:
        """Live-state fields that changed since the last time (most samples change a few)."""
        starts = {cid: s.meter_start_wh for cid, s in self.active_sessions.items()}
        fields = live_fields(self.readings, starts)
        changed = {k: v for k, v in fields.items() if self._published.get(k) != v}
        if changed:
            self._published.update(changed)
            self.bridge.presence.update_live(self.charger.pk, changed)

    # --- central system -> charger ----------------------------------------------------------

    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:
        # Keep the charger's answer as it came (the library then validates and converts it),
        # so a command stores exactly what the charger said.
        response = await super()._get_specific_response(unique_id, timeout)
        if isinstance(response, CallResult):
            self._answers[unique_id] = CallResult(response.unique_id, response.payload)
        else:
            self._answers[unique_id] = response
        return response

    async def call_with_deadline(self, request: Any, timeout_s: float) -> CallOutcome:
        """Send one call (a ``ocpp.v16.call`` dataclass) and wait for the answer, at most
        ``timeout_s`` seconds and no longer than the connection lives."""
        unique_id = str(uuid.uuid4())
        calling = asyncio.ensure_future(self.call(request, suppress=False, unique_id=unique_id))
        closing = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait(
                {calling, closing}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (calling, closing):
                task.cancel()
            await asyncio.gather(calling, closing, return_exceptions=True)
        answer = self._answers.pop(unique_id, None)
        if calling in done and not calling.cancelled():
            error = calling.exception()
            closed = isinstance(error, ConnectionClosed)
            return CallOutcome(answer, None if closed else error, closed=closed)
        return CallOutcome(answer, None, closed=closing in done, timed_out=not done)


@dataclass(frozen=True)
class CallOutcome:
    """How a call to a charger ended: its answer as it came, or why there is none."""

    answer: CallResult | CallError | None
    error: BaseException | None = None  # e.g. the answer broke the schema
    closed: bool = False
    timed_out: bool = False
