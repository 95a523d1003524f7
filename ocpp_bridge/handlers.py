"""One charger's OCPP-J 1.6 session: the mobilityhouse ``ChargePoint`` with our handlers.

``BridgeChargePoint`` holds the handlers: ``on_<action>`` methods returning ``call_result``
dataclasses, and ``@after`` hooks for work that need not delay the answer. Its base,
``connection.ChargerConnection``, holds the connection's machinery: nothing is sent before the
charger is accepted (OCPP 1.6 4.2), database work runs in the charger's order, calls to the
charger wait for their answer within their deadline; and ``framing.FrameRouter`` below that
answers every bad frame with its CallError so nothing a charger sends can end the connection.

An answer only waits for the database when it needs a result from it (Start/StopTransaction;
Authorize goes to the bridge's batched decisions, ``batching.Decisions``, outside the charger's
order); the writes of @after hooks happen behind the answers.
Meter values go to the bridge's ``MeterBuffer``; presence and live state to its ``Presence``
writer. The hot path stays light: a Heartbeat touches memory only, MeterValues append to the
buffer, a repeated status is not stored again, and the Charger row, connector states and
sessions in progress are loaded once per connection.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from ocpp.exceptions import (
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, DataTransferStatus, RegistrationStatus

from auth_access import checks
from auth_access.choices import AuthorizationTrigger
from chargers.choices import EventKind, StopReason
from commands.payloads import MAX_NUMBER
from ocpp_bridge import persistence
from ocpp_bridge.connection import ChargerConnection
from ocpp_bridge.meter_buffer import (
    DEFAULT_VOLTAGE_V,
    Readings,
    live_fields,
    merge_readings,
    parse_meter_values,
    parse_timestamp,
)
from ocpp_bridge.persistence import ActiveSession, StatusReport
from ocpp_bridge.upstream import authorization as upstream_authorization
from upstream import outbox

if TYPE_CHECKING:
    from auth_access.decisions import Decision
    from chargers.models import Charger
    from ocpp_bridge.bridge import Bridge
    from ocpp_bridge.upstream.link import Link
    from upstream.models import UpstreamSettings

logger = logging.getLogger(__name__)

# A connector reporting Available after these, with a session open, ended it unannounced.
IN_USE = frozenset({"Charging", "Finishing", "SuspendedEV", "SuspendedEVSE"})
# Older samples (a charger replaying what it measured offline) do not move the live state.
LIVE_HORIZON = timedelta(minutes=10)

# --- helpers -------------------------------------------------------------------------------------


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


def _nothing() -> None:
    """A database call that does nothing: its turn comes after the charger's earlier writes."""


def registration_status(charger: Charger) -> RegistrationStatus:
    """How a BootNotification is answered: always Accepted. Only registered chargers with their
    password get this far (an unknown identity is refused at the upgrade), so Fusebox has no
    reason to answer Pending or Rejected; the rest of the bridge still honours either."""
    return RegistrationStatus.accepted


class BridgeChargePoint(ChargerConnection):
    """A connected charger: what it says is answered, stored and published; commands go out."""

    def __init__(self, charger: Charger, connection: Any, bridge: Bridge) -> None:
        super().__init__(charger, connection, bridge)
        self.connectors: dict[int, persistence.ReportedState] = {}
        self.active_sessions: dict[int, ActiveSession] = {}
        self.readings: dict[int, Readings] = {}
        self._published: dict[str, str] = {}  # live fields as last sent
        # Upstream bridge (docs/upstream.md): the settings read at the upgrade (None: not
        # bridged, and nothing below asks again) and the link, once accepted and not paused.
        self.upstream_settings: UpstreamSettings | None = None
        self.upstream: Link | None = None

    def load(self, state: persistence.ConnectedState) -> None:
        self.connectors = dict(state.connectors)
        self.active_sessions = dict(state.active_sessions)
        self.upstream_settings = state.upstream

    def _accept(self) -> None:
        super()._accept()
        if self.upstream_settings is not None or self.charger.pk in self.bridge.upstream.links:
            self.bridge.upstream.accepted(self)

    def connectors_json(self) -> dict[str, str]:
        return {str(cid): state.status for cid, state in sorted(self.connectors.items())}

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
        if self.upstream is not None:
            self.upstream.charger_booted(self.current_payload)
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
        if self.upstream is not None:
            self.upstream.relay("StatusNotification", self.current_payload)
        report = StatusReport(
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            timestamp=_timestamp(timestamp, "timestamp"),
            info=info or "",
            vendor_id=vendor_id or "",
            vendor_error_code=vendor_error_code or "",
            previous=self.connectors.get(connector_id),
        )
        previous = report.previous
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
        if self.upstream_settings is not None and upstream_authorization.decides(self):
            decided = await upstream_authorization.authorize(self, id_tag)
            return call_result.Authorize(id_tag_info=_id_tag_info(decided))
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
        bridged = self.current_payload if self.upstream_settings is not None else None
        outcome = await self._in_order(
            persistence.start_transaction,
            self.charger.pk,
            connector_id,
            _storable_id_tag(id_tag),
            meter_start,
            _timestamp(timestamp, "timestamp"),
            reservation_id,
            bridged,
        )
        if self.upstream is not None:
            self.upstream.wake()
        self.active_sessions[connector_id] = ActiveSession(outcome.transaction_id, meter_start)
        self.readings.pop(connector_id, None)
        self._publish_readings()
        decision = outcome.decision
        if outcome.check is not None:
            decision = await checks.conclude(outcome.check, self._write_behind)
        if self.upstream is not None:
            decision = upstream_authorization.at_start(self, id_tag, decision)
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
        bridged = self.current_payload if self.upstream_settings is not None else None
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
            bridged,
        )
        if self.upstream is not None:
            self.upstream.wake()
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
        if self.upstream_settings is not None:
            self._meter_values_upstream(transaction_id)
        return call_result.MeterValues()

    def _wake_upstream_after_writes(self) -> None:
        """Wake the link once the writes queued so far are done (what they queued is in)."""
        if self.upstream is not None:
            future = self._store(_nothing)
            future.add_done_callback(lambda _: self.upstream and self.upstream.wake())

    def _meter_values_upstream(self, transaction_id: int | None) -> None:
        """A transaction's MeterValues are queued durably for upstream, behind the charger's
        earlier messages (the answer does not wait); others are relayed live."""
        payload = self.current_payload
        if transaction_id is not None:
            future = self._store(
                outbox.queue_meter_values, self.charger.pk, transaction_id, payload
            )
            future.add_done_callback(self._log_failure)
            if self.upstream is not None:
                future.add_done_callback(self._meter_values_queued)
        elif self.upstream is not None:
            self.upstream.relay("MeterValues", payload)

    def _meter_values_queued(self, future: asyncio.Future[outbox.Pending | None]) -> None:
        """Hand the link the MeterValues just queued (sent from memory when nothing older
        waits)."""
        if self.upstream is None or future.cancelled() or future.exception() is not None:
            return
        message = future.result()
        if message is not None:
            self.upstream.queued(message)

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **kwargs: Any) -> call_result.DataTransfer:
        if self.upstream is not None:  # passed through to upstream, with a short deadline
            answer = await self.upstream.data_transfer(self.current_payload)
            if answer is not None and isinstance(answer.get("status"), str):
                data = answer.get("data")
                return call_result.DataTransfer(
                    status=answer["status"], data=data if isinstance(data, str) else None
                )
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
        if self.upstream is not None:
            self.upstream.relay("DiagnosticsStatusNotification", self.current_payload)
        await self._event(EventKind.DIAGNOSTICS, f"Diagnostics upload: {status}")

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(
        self, status: str
    ) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @after(Action.firmware_status_notification)
    async def after_firmware_status_notification(self, status: str) -> None:
        if self.upstream is not None:
            self.upstream.relay("FirmwareStatusNotification", self.current_payload)
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
            self.upstream_settings is not None,
        )
        self._wake_upstream_after_writes()

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
