"""The simulated charger's answers to every command of the central system (OCPP 1.6).

``OcppClient`` is the ``ocpp`` library's charge point on the client side of the websocket. Each
``on_*`` handler decides the answer from the charger's state; work that takes time or sends
messages of its own (starting a session, rebooting, uploading diagnostics, sending a triggered
message) runs after the answer, in the ``after_*`` hooks, as a task of the charger. Its ``call``
sends the same frames as the library's, built more cheaply (``wire``).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import OCPPError
from ocpp.messages import Call, MessageType, unpack, validate_payload
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from ocpp_bridge.simulator.profiles import TX_PROFILE, ChargingProfile, ProfileError, parse_time
from ocpp_bridge.simulator.settings import ocpp_time, utcnow
from ocpp_bridge.simulator.station import Hold
from ocpp_bridge.simulator.wire import payload_of, snake_keys

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ocpp_bridge.simulator.charger import SimulatedCharger
    from ocpp_bridge.simulator.station import Connector

TRIGGERABLE = {
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
}
OUR_VENDOR_IDS = {"Fusebox"}


def _limit_part(period: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in period.items() if key != "start_period"}


class OcppClient(ChargePoint):
    """The library's v1.6 charge point, answering for a ``SimulatedCharger``."""

    def __init__(
        self, sim: SimulatedCharger, connection: ClientConnection, response_timeout: float
    ) -> None:
        super().__init__(sim.spec.identity, connection, response_timeout=response_timeout)
        self.sim = sim
        self._waiting: tuple[str, asyncio.Future[Any]] | None = None  # the Call in flight

    # --- framing --------------------------------------------------------------------------------

    async def call(
        self,
        payload: Any,
        suppress: bool = True,
        unique_id: str | None = None,
        skip_schema_validation: bool = False,
    ) -> Any:
        """The library's ``call`` (one Call at a time, same frame, same answer), with the payload
        built by ``wire.payload_of`` and the answer handed over by a future."""
        unique_id = unique_id if unique_id is not None else str(self._unique_id_generator())
        request = Call(
            unique_id=unique_id, action=type(payload).__name__, payload=payload_of(payload)
        )
        if not skip_schema_validation:
            await validate_payload(request, self._ocpp_version)
        async with self._call_lock:
            answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiting = (unique_id, answer)
            try:
                await self._send(request.to_json())
                async with asyncio.timeout(self._response_timeout):
                    response = await answer
            finally:
                self._waiting = None
        if response.message_type_id == MessageType.CallError:
            self.logger.warning("Received a CALLError: %s'", response)
            if suppress:
                return None
            raise response.to_exception()
        if not skip_schema_validation:
            response.action = request.action
            await validate_payload(response, self._ocpp_version)
        return getattr(self._call_result, request.action)(**snake_keys(response.payload))

    async def route_message(self, raw_msg: str | bytes) -> None:
        try:
            message = unpack(raw_msg)
        except OCPPError as error:
            self.logger.exception("Unable to parse message: %r: %s", raw_msg, error)
            return
        if message.message_type_id == MessageType.Call:
            try:
                await self._handle_call(message)
            except OCPPError as error:
                self.logger.exception("Error while handling request '%s'", message)
                await self._send(message.create_call_error(error).to_json())
            return
        waiting = self._waiting
        if waiting is not None and waiting[0] == message.unique_id and not waiting[1].done():
            waiting[1].set_result(message)
        else:
            self.logger.error("Ignoring response with unknown unique id: %s", message)

    # --- helpers ------------------------------------------------------------------------------

    def _connector(self, connector_id: int | None) -> Connector | None:
        return self.sim.station.connectors.get(connector_id or 0)

    def _valid_connector(self, connector_id: int | None, *, zero: bool = True) -> bool:
        if connector_id is None:
            return True
        return (zero and connector_id == 0) or connector_id in self.sim.station.connectors

    # --- remote start / stop ------------------------------------------------------------------

    def _remote_start_connector(self, connector_id: int | None) -> Connector | None:
        station = self.sim.station
        if connector_id:
            connector = station.connectors.get(connector_id)
            candidates = [connector] if connector else []
        else:  # a plugged car waiting for authorization first, else a free connector
            connectors = list(station.connectors.values())
            candidates = [c for c in connectors if c.car and not c.transaction] + [
                c for c in connectors if c.car is None
            ]
        for connector in candidates:
            if (
                connector.operative
                and self.sim.operative
                and connector.transaction is None
                and not connector.finishing
            ):
                return connector
        return None

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> call_result.RemoteStartTransaction:
        connector = self._remote_start_connector(connector_id)
        if connector is None:
            return call_result.RemoteStartTransaction(status="Rejected")
        if charging_profile is not None:
            try:
                profile = ChargingProfile.from_ocpp(connector.connector_id, charging_profile)
            except (ProfileError, KeyError, TypeError, ValueError):
                return call_result.RemoteStartTransaction(status="Rejected")
            if profile.purpose != TX_PROFILE:
                return call_result.RemoteStartTransaction(status="Rejected")
        connector.remote_id_tag = id_tag
        return call_result.RemoteStartTransaction(status="Accepted")

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        connector = next(
            (c for c in self.sim.station.connectors.values() if c.remote_id_tag == id_tag), None
        )
        if connector is not None:
            connector.remote_id_tag = None
            self.sim.spawn(self._remote_start(connector, id_tag, charging_profile))

    async def _remote_start(
        self, connector: Connector, id_tag: str, charging_profile: dict[str, Any] | None
    ) -> None:
        sim = self.sim
        if connector.car is None:  # the driver started from the app and now plugs in
            sim.arrive(connector, swipe_after_s=0, id_tag=id_tag)
        if sim.config.get_bool("AuthorizeRemoteTxRequests"):
            await sim.authorize_and_start(connector, id_tag)
        elif connector.transaction is None:
            sim.start_transaction(connector, id_tag)
        if charging_profile is not None and connector.transaction is not None:
            profile = ChargingProfile.from_ocpp(connector.connector_id, charging_profile)
            sim.station.profiles.install(profile)
            sim.poke()

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(
        self, transaction_id: int, **_: Any
    ) -> call_result.RemoteStopTransaction:
        for connector in self.sim.station.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.transaction_id == transaction_id:
                return call_result.RemoteStopTransaction(status="Accepted")
        return call_result.RemoteStopTransaction(status="Rejected")

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        for connector in self.sim.station.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.transaction_id == transaction_id:
                self.sim.stop_transaction(connector, "Remote", id_tag=tx.id_tag)
                connector.unplug_at = self.sim.sim_delay(self.sim.rng.uniform(10, 120))

    # --- reset, unlock, availability ------------------------------------------------------------

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> call_result.Reset:
        return call_result.Reset(status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **_: Any) -> None:
        reason = "SoftReset" if type == "Soft" else "HardReset"
        self.sim.spawn(self.sim.reboot(reason, graceful=type == "Soft"))

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any) -> call_result.UnlockConnector:
        connector = self.sim.station.connectors.get(connector_id)
        if connector is None:
            return call_result.UnlockConnector(status="NotSupported")
        if connector.transaction is not None:
            self.sim.stop_transaction(connector, "UnlockCommand")
        if connector.car is not None:
            self.sim.unplug(connector)  # the cable comes free and the car drives off
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    def on_change_availability(
        self, connector_id: int, type: str, **_: Any
    ) -> call_result.ChangeAvailability:
        if not self._valid_connector(connector_id):
            return call_result.ChangeAvailability(status="Rejected")
        sim = self.sim
        targets = (
            list(sim.station.connectors.values())
            if connector_id == 0
            else [sim.station.connectors[connector_id]]
        )
        operative = type == "Operative"
        if connector_id == 0:
            sim.operative = operative
        scheduled = False
        for connector in targets:
            if operative:
                connector.operative, connector.inoperative_when_free = True, False
            elif connector.transaction is not None:
                connector.inoperative_when_free, scheduled = True, True
            else:
                connector.operative = False
        sim.poke()
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else "Accepted")

    # --- reservations -------------------------------------------------------------------------------

    @on(Action.reserve_now)
    def on_reserve_now(
        self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, **_: Any
    ) -> call_result.ReserveNow:
        """Connector 0 (any) is not supported (ReserveConnectorZeroSupported is false)."""
        connector = self.sim.station.connectors.get(connector_id) if connector_id else None
        if connector is None:
            return call_result.ReserveNow(status="Rejected")
        if not (connector.operative and self.sim.operative):
            return call_result.ReserveNow(status="Unavailable")
        try:
            until = parse_time(expiry_date)
        except ValueError:
            until = None
        if until is None:
            return call_result.ReserveNow(status="Rejected")
        held = connector.reservation
        busy = connector.car is not None or connector.transaction is not None
        if busy or (held is not None and held.reservation_id != reservation_id):
            return call_result.ReserveNow(status="Occupied")
        connector.reservation = Hold(reservation_id, id_tag, until)
        return call_result.ReserveNow(status="Accepted")

    @after(Action.reserve_now)
    def after_reserve_now(self, connector_id: int, **_: Any) -> None:
        if connector_id in self.sim.station.connectors:
            self.sim.queue_status(connector_id, changed_only=True)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> call_result.CancelReservation:
        for connector in self.sim.station.connectors.values():
            held = connector.reservation
            if held is not None and held.reservation_id == reservation_id:
                connector.reservation = None
                return call_result.CancelReservation(status="Accepted")
        return call_result.CancelReservation(status="Rejected")

    @after(Action.cancel_reservation)
    def after_cancel_reservation(self, **_: Any) -> None:
        self.sim.queue_status(None, changed_only=True)

    # --- configuration ----------------------------------------------------------------------------

    @on(Action.change_configuration)
    def on_change_configuration(
        self, key: str, value: str, **_: Any
    ) -> call_result.ChangeConfiguration:
        status = self.sim.config.change(key, value)
        if key == "MeterValueSampleInterval" and status == "Accepted":
            interval = self.sim.config.get_int(key)
            for connector in self.sim.station.connectors.values():
                if connector.transaction is not None:
                    connector.next_sample_at = time.monotonic() + interval if interval else None
        self.sim.poke()
        return call_result.ChangeConfiguration(status=status.value)

    @on(Action.get_configuration)
    def on_get_configuration(
        self, key: list[str] | None = None, **_: Any
    ) -> call_result.GetConfiguration:
        known, unknown = self.sim.config.report(key)
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> call_result.ClearCache:
        self.sim.station.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    # --- trigger ------------------------------------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        if requested_message not in TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        if not self._valid_connector(connector_id):
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if requested_message not in TRIGGERABLE or not self._valid_connector(connector_id):
            return
        self.sim.spawn(self._triggered(requested_message, connector_id))

    async def _triggered(self, message: str, connector_id: int | None) -> None:
        sim = self.sim
        if message == "BootNotification":
            sim.on_boot_result(await sim.request(sim.boot_payload()))
        elif message == "Heartbeat":
            await sim.request(call.Heartbeat())
        elif message == "StatusNotification":
            sim.queue_status(connector_id)
        elif message == "DiagnosticsStatusNotification":
            await sim.request(call.DiagnosticsStatusNotification(status=sim.diagnostics_status))
        elif message == "FirmwareStatusNotification":
            await sim.request(call.FirmwareStatusNotification(status=sim.firmware_status))
        elif message == "MeterValues":
            measurands = sim.config.get_list("MeterValuesSampledData")
            for connector in sim.station.connectors.values():
                if connector_id in (None, 0, connector.connector_id):
                    sim._queue_meter_values(connector, measurands, "Trigger", volatile=True)

    # --- smart charging -----------------------------------------------------------------------------

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> call_result.SetChargingProfile:
        station = self.sim.station
        rejected = call_result.SetChargingProfile(status="Rejected")
        if not self._valid_connector(connector_id):
            return rejected
        try:
            profile = ChargingProfile.from_ocpp(connector_id, cs_charging_profiles)
        except (ProfileError, KeyError, TypeError, ValueError):
            return rejected
        if profile.purpose == TX_PROFILE:
            tx = station.connectors[connector_id].transaction
            if tx is None:
                return rejected
            if profile.transaction_id is not None and tx.transaction_id not in (
                None,
                profile.transaction_id,
            ):
                return rejected
        try:
            station.profiles.install(profile)
        except ProfileError:
            return rejected
        self.sim.poke()
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> call_result.ClearChargingProfile:
        removed = self.sim.station.profiles.clear(
            id, connector_id, charging_profile_purpose, stack_level
        )
        self.sim.poke()
        return call_result.ClearChargingProfile(status="Accepted" if removed else "Unknown")

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> call_result.GetCompositeSchedule:
        station = self.sim.station
        if not self._valid_connector(connector_id):
            return call_result.GetCompositeSchedule(status="Rejected")
        unit = charging_rate_unit or "A"
        start = utcnow()
        end = start + timedelta(seconds=duration)
        tx = station.connectors[connector_id].transaction if connector_id else None
        periods: list[dict[str, Any]] = []
        for at in station.profiles.breakpoints(
            connector_id, start, end, tx.started_at if tx else None
        ):
            limit = station.composite_limit(connector_id, at)
            phases = limit.phases or station.spec.phases
            value = limit.current_a if unit == "A" else limit.current_a * station.voltage_v * phases
            period = {"start_period": int((at - start).total_seconds()), "limit": round(value, 1)}
            if limit.phases:
                period["number_phases"] = limit.phases
            if periods and periods[-1]["start_period"] == period["start_period"]:
                periods.pop()  # two changes within a second: the later one holds
            if not periods or _limit_part(periods[-1]) != _limit_part(period):
                periods.append(period)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=ocpp_time(start),
            charging_schedule={
                "duration": duration,
                "start_schedule": ocpp_time(start),
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )

    # --- local authorization list -------------------------------------------------------------------

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> call_result.SendLocalList:
        status = self.sim.station.update_local_list(
            list_version, update_type, local_authorization_list or []
        )
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> call_result.GetLocalListVersion:
        station = self.sim.station
        enabled = station.config.get_bool("LocalAuthListEnabled")
        return call_result.GetLocalListVersion(
            list_version=station.local_list_version if enabled else -1
        )

    # --- diagnostics, firmware, data transfer -------------------------------------------------------

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, **_: Any) -> call_result.GetDiagnostics:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        return call_result.GetDiagnostics(
            file_name=f"diagnostics-{self.sim.spec.identity}-{stamp}.tar.gz"
        )

    @after(Action.get_diagnostics)
    def after_get_diagnostics(self, location: str, **_: Any) -> None:
        # Nothing is uploaded anywhere: the statuses are what a central system gets to see.
        self.sim.spawn(self.sim.upload_diagnostics())

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    def after_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> None:
        retrieve_at = parse_time(retrieve_date)
        when = retrieve_at.timestamp() if retrieve_at else time.time()
        self.sim.spawn(self.sim.update_firmware(location, when))

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: Any
    ) -> call_result.DataTransfer:
        if vendor_id not in OUR_VENDOR_IDS | {self.sim.spec.vendor}:
            return call_result.DataTransfer(status="UnknownVendorId")
        answer = {"identity": self.sim.spec.identity, "messageId": message_id, "echo": data}
        return call_result.DataTransfer(status="Accepted", data=json.dumps(answer))
