"""Each emission point writes its event, over real websockets for what the bridge hears
(docs/events.md, "Catalogue"), in the transaction of the change it tells of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from auth_access.models import ChargeCard
from chargers.models import Charger
from commands import routing
from commands.choices import CommandAction, CommandStatus
from commands.models import Command
from events import consumers
from events.choices import EventType
from events.health import emit_offline_after_grace
from events.models import Event, Incident
from ocpp_bridge import sweeps
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, eventually

T0 = datetime(2026, 2, 1, 18, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _committed(transactional_db: None) -> None:
    """The bridge's threads must see what the test wrote."""


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def events_of(charger: Charger, *types: EventType) -> list[Event]:
    found = Event.objects.filter(charger=charger).order_by("id")
    return list(found.filter(type__in=types) if types else found)


def payloads(charger: Charger, event_type: EventType) -> list[dict[str, Any]]:
    return [event.payload for event in events_of(charger, event_type)]


def status(connector: int, state: str, error: str = "NoError", **extra: str) -> dict[str, Any]:
    return {"connectorId": connector, "status": state, "errorCode": error, **extra}


class TestPresence:
    def test_connect_and_disconnect_are_events_with_the_reason(
        self, world: World, bridge: BridgeHandle, chargers: Chargers
    ) -> None:
        a1 = chargers.connect(world.charger_a1)
        bridge.flush()
        (connected,) = events_of(world.charger_a1)
        assert connected.type == EventType.CHARGER_CONNECTED
        assert connected.installation_id == world.site_a.pk
        a1.close()
        eventually(lambda: bridge.flush() or events_of(world.charger_a1).__len__() == 2)
        disconnected = events_of(world.charger_a1)[-1]
        assert disconnected.type == EventType.CHARGER_DISCONNECTED
        assert disconnected.payload["reason"].startswith("Disconnected (code 1000")

    def test_offline_only_after_the_grace_period_once_and_online_when_back(
        self, world: World, bridge: BridgeHandle, chargers: Chargers, settings: Any
    ) -> None:
        settings.EVENTS_OFFLINE_GRACE_S = 60
        a1 = chargers.connect(world.charger_a1)
        bridge.flush()
        a1.close()
        eventually(lambda: bridge.flush() or events_of(world.charger_a1).__len__() == 2)
        now = timezone.now()
        assert emit_offline_after_grace(now) == 0  # within the grace period: no incident
        assert emit_offline_after_grace(now + timedelta(seconds=61)) == 1
        assert emit_offline_after_grace(now + timedelta(seconds=120)) == 0  # once per episode
        (offline,) = payloads(world.charger_a1, EventType.CHARGER_OFFLINE)
        assert offline["grace_seconds"] == 60
        chargers.connect(world.charger_a1)
        bridge.flush()
        (online,) = payloads(world.charger_a1, EventType.CHARGER_ONLINE)
        assert online["offline_seconds"] >= 0
        # A later short disconnect is no new offline episode until its own grace has passed.
        assert emit_offline_after_grace(timezone.now() + timedelta(seconds=120)) == 0

    def test_a_charger_whose_bridge_node_vanished_is_disconnected_by_the_sweep(
        self, world: World
    ) -> None:
        Charger.objects.filter(pk=world.charger_a1.pk).update(is_online=True)
        assert sweeps.mark_vanished_chargers_offline() == 1
        (gone,) = payloads(world.charger_a1, EventType.CHARGER_DISCONNECTED)
        assert gone == {"reason": "Connection lost (no bridge node)"}


class TestChargerReports:
    def test_boot_with_its_firmware(self, world: World, chargers: Chargers) -> None:
        a1 = chargers.connect(world.charger_a1, accepted=False)
        boot = {"chargePointVendor": "Acme", "chargePointModel": "W1", "firmwareVersion": "2.1"}
        assert a1.result("BootNotification", boot)["status"] == "Accepted"
        a1.settle()
        assert payloads(world.charger_a1, EventType.CHARGER_BOOTED) == [
            {"vendor": "Acme", "model": "W1", "firmware_version": "2.1"}
        ]

    def test_a_fault_once_then_its_recovery(self, world: World, chargers: Chargers) -> None:
        a1 = chargers.connect(world.charger_a1)
        a1.result("StatusNotification", status(1, "Available"))
        fault = status(1, "Faulted", "GroundFailure", info="RCD", vendorErrorCode="E12")
        a1.result("StatusNotification", fault)
        a1.result("StatusNotification", fault)  # repeated after a reconnect: the same fault
        a1.result("StatusNotification", status(1, "Available"))
        a1.settle()
        (faulted,) = events_of(world.charger_a1, EventType.CONNECTOR_FAULTED)
        assert faulted.connector_id == 1 and faulted.severity == "critical"
        assert faulted.payload == {
            "status": "Faulted",
            "error_code": "GroundFailure",
            "vendor_error_code": "E12",
            "vendor_id": "",
            "info": "RCD",
        }
        (recovered,) = events_of(world.charger_a1, EventType.CONNECTOR_RECOVERED)
        assert recovered.payload == {"status": "Available"} and recovered.id > faulted.id

    def test_an_error_code_while_charging_is_a_fault_too(
        self, world: World, chargers: Chargers
    ) -> None:
        a1 = chargers.connect(world.charger_a1)
        a1.result("StatusNotification", status(0, "Available", "HighTemperature"))
        a1.settle()
        (faulted,) = events_of(world.charger_a1, EventType.CONNECTOR_FAULTED)
        assert faulted.connector_id == 0
        assert faulted.payload["error_code"] == "HighTemperature"

    def test_a_charger_fault_that_clears_across_a_reconnect_is_recovered(
        self, world: World, chargers: Chargers
    ) -> None:
        """Connector 0's report lives in the connection only: a new connection (a reconnect, a
        bridge restart) reads the open fault from the outbox, so it is neither lost nor new."""
        a1 = chargers.connect(world.charger_a1)
        a1.result("StatusNotification", status(0, "Faulted", "OtherError", vendorErrorCode="E7"))
        a1.settle()
        a1.close()
        a1 = chargers.connect(world.charger_a1)  # the same fault, re-sent: not a new one
        a1.result("StatusNotification", status(0, "Faulted", "OtherError", vendorErrorCode="E7"))
        a1.settle()
        a1.close()
        a1 = chargers.connect(world.charger_a1)
        a1.result("StatusNotification", status(0, "Available"))
        a1.settle()
        (faulted,) = events_of(world.charger_a1, EventType.CONNECTOR_FAULTED)
        (recovered,) = events_of(world.charger_a1, EventType.CONNECTOR_RECOVERED)
        assert faulted.connector_id == 0 and faulted.payload["vendor_error_code"] == "E7"
        assert (recovered.connector_id, recovered.payload) == (0, {"status": "Available"})
        consumers.run_all()
        incident = Incident.objects.get(installation=world.site_a, kind="fault")
        assert incident.ended_at == recovered.occurred_at
        a1.result("StatusNotification", status(0, "Available"))  # nothing open any more
        a1.settle()
        assert len(events_of(world.charger_a1, EventType.CONNECTOR_RECOVERED)) == 1

    def test_firmware_and_diagnostics_status(self, world: World, chargers: Chargers) -> None:
        a1 = chargers.connect(world.charger_a1)
        a1.result("FirmwareStatusNotification", {"status": "InstallationFailed"})
        a1.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
        a1.settle()
        assert payloads(world.charger_a1, EventType.FIRMWARE_STATUS) == [
            {"status": "InstallationFailed"}
        ]
        assert payloads(world.charger_a1, EventType.DIAGNOSTICS_STATUS) == [{"status": "Uploaded"}]


class TestSessions:
    def test_started_and_stopped_with_energy_driver_and_reason_but_no_card_number(
        self, world: World, chargers: Chargers
    ) -> None:
        ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")
        a1 = chargers.connect(world.charger_a1)
        start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 1000, "timestamp": at(0)}
        tx = a1.result("StartTransaction", start)["transactionId"]
        stop = {"transactionId": tx, "meterStop": 8500, "timestamp": at(60), "reason": "Local"}
        a1.result("StopTransaction", {**stop, "idTag": "DORA-1"})
        a1.result("StopTransaction", {**stop, "idTag": "DORA-1"})  # a retry: nothing new
        a1.settle()
        started, stopped = events_of(
            world.charger_a1, EventType.SESSION_STARTED, EventType.SESSION_STOPPED
        )
        assert started.payload == {
            "session_id": tx,
            "meter_start_wh": 1000,
            "driver_id": world.dora.pk,
            "authorized": True,
        }
        assert (started.session_id, started.connector_id, started.occurred_at) == (tx, 1, T0)
        assert stopped.payload == {
            "session_id": tx,
            "energy_wh": 7500,
            "stop_reason": "Local",
            "inferred": False,
            "driver_id": world.dora.pk,
        }
        assert "DORA" not in str([started.payload, stopped.payload])

    def test_a_session_closed_by_a_reboot_is_stopped_inferred(
        self, world: World, chargers: Chargers
    ) -> None:
        a1 = chargers.connect(world.charger_a1)
        start = {"connectorId": 1, "idTag": "ANYONE", "meterStart": 0, "timestamp": at(0)}
        world.site_a.authorization_mode = "open"
        world.site_a.save(update_fields=["authorization_mode"])
        tx = a1.result("StartTransaction", start)["transactionId"]
        a1.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W1"})
        a1.settle()
        (stopped,) = payloads(world.charger_a1, EventType.SESSION_STOPPED)
        assert stopped["session_id"] == tx
        assert (stopped["stop_reason"], stopped["inferred"]) == ("Reboot", True)

    def test_a_late_stop_after_an_inferred_one_is_a_correction_told_once(
        self, world: World, chargers: Chargers
    ) -> None:
        ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")
        a1 = chargers.connect(world.charger_a1)
        start = {"connectorId": 1, "idTag": "DORA-1", "meterStart": 1000, "timestamp": at(0)}
        tx = a1.result("StartTransaction", start)["transactionId"]
        a1.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W1"})
        a1.settle()
        (inferred,) = events_of(world.charger_a1, EventType.SESSION_STOPPED)
        assert inferred.payload["inferred"] is True
        inferred_at = Event.objects.get(pk=inferred.pk).occurred_at

        # The charger's own StopTransaction comes after the reboot, from its offline queue.
        stop = {"transactionId": tx, "meterStop": 9100, "timestamp": at(45), "reason": "Reboot"}
        a1.result("StopTransaction", {**stop, "idTag": "DORA-1"})
        a1.result("StopTransaction", {**stop, "idTag": "DORA-1"})  # sent again: nothing new
        a1.settle()
        assert len(events_of(world.charger_a1, EventType.SESSION_STOPPED)) == 1
        (corrected,) = events_of(world.charger_a1, EventType.SESSION_CORRECTED)
        assert corrected.payload == {
            "session_id": tx,
            "energy_wh": 8100,
            "stopped_at": (T0 + timedelta(minutes=45)).isoformat(),
            "stop_reason": "Reboot",
            "driver_id": world.dora.pk,
            "inferred_energy_wh": 0,
            "inferred_stopped_at": inferred_at.isoformat(),
        }
        assert (corrected.session_id, corrected.connector_id) == (tx, 1)
        assert corrected.occurred_at == T0 + timedelta(minutes=45)
        assert corrected.severity == "info" and corrected.installation_id == world.site_a.pk


class TestRefusalsAndCommands:
    def test_an_unknown_card_at_a_locked_installation(
        self, world: World, chargers: Chargers
    ) -> None:
        a1 = chargers.connect(world.charger_a1)
        answer = a1.result("Authorize", {"idTag": "STRANGER-1234"})
        assert answer["idTagInfo"]["status"] == "Invalid"
        a1.settle()
        (refused,) = events_of(world.charger_a1, EventType.AUTHORIZATION_REFUSED)
        assert refused.payload == {
            "status": "Invalid",
            "trigger": "authorize",
            "id_tag_suffix": "1234",
        }
        assert refused.installation_id == world.site_a.pk

    def test_a_command_rejected_by_the_charger(
        self, world: World, bridge: BridgeHandle, chargers: Chargers
    ) -> None:
        a1 = chargers.connect(world.charger_a1)
        a1.answers["ClearCache"] = {"status": "Rejected"}
        command = routing.issue_command(world.charger_a1, CommandAction.CLEAR_CACHE, {})
        eventually(lambda: Command.objects.get(pk=command.pk).status == CommandStatus.REJECTED)
        (rejected,) = events_of(world.charger_a1, EventType.COMMAND_REJECTED)
        assert rejected.payload == {
            "command_id": command.pk,
            "action": "ClearCache",
            "source": command.source,
            "status": "Rejected",
            "error": "",
        }

    def test_a_command_to_an_offline_charger_fails(self, world: World) -> None:
        command = routing.issue_command(world.charger_a1, CommandAction.CLEAR_CACHE, {})
        (failed,) = payloads(world.charger_a1, EventType.COMMAND_FAILED)
        assert failed["command_id"] == command.pk
        assert (failed["status"], failed["error"]) == ("failed", "Charger is offline.")

    def test_a_command_nobody_answered_times_out(self, world: World) -> None:
        command = Command.objects.create(
            charger=world.charger_a1, action=CommandAction.RESET, status=CommandStatus.SENT
        )
        assert routing.expire_commands(now=timezone.now() + timedelta(minutes=5)) == 1
        assert routing.expire_commands(now=timezone.now() + timedelta(minutes=6)) == 0
        (timed_out,) = payloads(world.charger_a1, EventType.COMMAND_TIMED_OUT)
        assert (timed_out["command_id"], timed_out["status"]) == (command.pk, "timed_out")
        assert timed_out["action"] == "Reset"
