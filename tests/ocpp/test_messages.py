"""What a charger says and what the central system answers: boot, heartbeat, status,
authorization, data transfer, diagnostics and firmware notifications."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test.utils import override_settings
from django.utils import timezone

from auth_access.models import ChargeCard
from chargers.choices import ConnectorStatus, EventKind
from chargers.models import ChargerEvent, Connector
from commands.routing import live_states
from installations.choices import AuthorizationMode
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, TestCharger

UTC_SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _close_to_now(text: str) -> bool:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return abs(moment - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.fixture
def a1(world: World, chargers: Chargers) -> TestCharger:
    return chargers.connect(world.charger_a1)


class TestBootAndHeartbeat:
    @override_settings(OCPP_HEARTBEAT_INTERVAL_S=120)
    def test_boot_is_accepted_with_the_heartbeat_interval_and_stored(
        self, world: World, a1: TestCharger
    ) -> None:
        boot = {
            "chargePointVendor": "Acme",
            "chargePointModel": "Wallbox 22",
            "chargePointSerialNumber": "CP-0001",
            "chargeBoxSerialNumber": "BOX-0001",
            "firmwareVersion": "1.2.3",
            "iccid": "8931",
            "meterType": "EM340",
        }
        reply = a1.call("BootNotification", boot, unique_id="boot-1")
        assert reply == [
            3,
            "boot-1",
            {"currentTime": reply[2]["currentTime"], "interval": 120, "status": "Accepted"},
        ]
        assert UTC_SECOND.match(reply[2]["currentTime"])
        assert _close_to_now(reply[2]["currentTime"])
        a1.settle()  # the boot is stored behind the answer
        charger = world.charger_a1
        charger.refresh_from_db()
        assert (charger.vendor, charger.model, charger.serial_number, charger.firmware_version) == (
            "Acme",
            "Wallbox 22",
            "CP-0001",
            "1.2.3",
        )
        assert charger.boot_info == boot
        assert charger.last_boot_at is not None
        assert timezone.now() - charger.last_boot_at < timedelta(seconds=5)
        event = ChargerEvent.objects.get(charger=charger, kind=EventKind.BOOT)
        assert event.summary == "Booted: Acme Wallbox 22, firmware 1.2.3"

    def test_heartbeat_answers_the_current_time(self, a1: TestCharger) -> None:
        reply = a1.call("Heartbeat", {}, unique_id="19223201")
        assert reply == [3, "19223201", {"currentTime": reply[2]["currentTime"]}]
        assert UTC_SECOND.match(reply[2]["currentTime"])
        assert _close_to_now(reply[2]["currentTime"])


def _status(connector_id: int, status: str, error: str = "NoError", **extra: str) -> dict:
    return {"connectorId": connector_id, "errorCode": error, "status": status, **extra}


class TestStatusNotification:
    def test_each_connector_keeps_its_latest_status(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        a2 = chargers.connect(world.charger_a2)
        at = "2026-03-01T08:00:00Z"
        assert a2.call("StatusNotification", _status(1, "Preparing", timestamp=at)) == [3, "m1", {}]
        assert a2.call("StatusNotification", _status(2, "Available")) == [3, "m1", {}]
        a2.settle()
        statuses = dict(
            Connector.objects.filter(charger=world.charger_a2).values_list("connector_id", "status")
        )
        assert statuses == {1: ConnectorStatus.PREPARING, 2: ConnectorStatus.AVAILABLE}
        first = Connector.objects.get(charger=world.charger_a2, connector_id=1)
        assert first.status_updated_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
        bridge.flush()
        live = live_states([world.charger_a2.pk])[world.charger_a2.pk]
        assert live.connectors == {"1": "Preparing", "2": "Available"}
        summaries = set(
            ChargerEvent.objects.filter(
                charger=world.charger_a2, kind=EventKind.STATUS
            ).values_list("summary", flat=True)
        )
        assert summaries == {"Connector 1: Preparing", "Connector 2: Available"}

    def test_an_older_status_does_not_overwrite_a_newer_one(
        self, world: World, a1: TestCharger
    ) -> None:
        a1.result("StatusNotification", _status(1, "Charging", timestamp="2026-03-01T09:00:00Z"))
        a1.result("StatusNotification", _status(1, "Available", timestamp="2026-03-01T08:00:00Z"))
        a1.settle()
        assert Connector.objects.get(charger=world.charger_a1).status == ConnectorStatus.CHARGING

    def test_a_repeated_status_changes_nothing(self, world: World, a1: TestCharger) -> None:
        a1.result("StatusNotification", _status(1, "Available", timestamp="2026-03-01T08:00:00Z"))
        a1.result("StatusNotification", _status(1, "Available", timestamp="2026-03-01T09:00:00Z"))
        a1.settle()
        connector = Connector.objects.get(charger=world.charger_a1, connector_id=1)
        assert connector.status_updated_at == datetime(2026, 3, 1, 8, tzinfo=UTC)  # since when
        assert ChargerEvent.objects.filter(kind=EventKind.STATUS).count() == 1

    def test_connector_zero_is_the_charger_itself(self, world: World, a1: TestCharger) -> None:
        assert a1.call("StatusNotification", _status(0, "Unavailable")) == [3, "m1", {}]
        a1.settle()
        assert not Connector.objects.filter(charger=world.charger_a1, connector_id=0).exists()
        event = ChargerEvent.objects.get(charger=world.charger_a1, kind=EventKind.STATUS)
        assert (event.connector_id, event.summary) == (0, "Charger: Unavailable")

    def test_an_error_code_is_a_fault_event(self, world: World, a1: TestCharger) -> None:
        report = _status(
            1,
            "Faulted",
            "GroundFailure",
            info="RCD tripped",
            vendorErrorCode="E42",
            vendorId="Acme",
        )
        assert a1.call("StatusNotification", report) == [3, "m1", {}]
        a1.settle()
        fault = ChargerEvent.objects.get(charger=world.charger_a1, kind=EventKind.FAULT)
        assert fault.summary == "Connector 1: GroundFailure (RCD tripped, E42)"
        assert fault.data["vendorErrorCode"] == "E42"
        connector = Connector.objects.get(charger=world.charger_a1, connector_id=1)
        assert (connector.status, connector.error_code, connector.info) == (
            ConnectorStatus.FAULTED,
            "GroundFailure",
            "RCD tripped",
        )
        assert connector.vendor_error_code == "E42"
        a1.result("StatusNotification", _status(1, "Available"))
        a1.settle()
        assert Connector.objects.get(charger=world.charger_a1, connector_id=1).error_code == ""
        assert ChargerEvent.objects.filter(kind=EventKind.FAULT).count() == 1


@pytest.fixture
def cards(world: World) -> dict[str, ChargeCard]:
    past = timezone.now() - timedelta(days=1)
    future = datetime(2031, 1, 1, tzinfo=UTC)
    return {
        "dora": ChargeCard.objects.create(user=world.dora, id_tag="DORA-1", expires_at=future),
        "blocked": ChargeCard.objects.create(user=world.dora, id_tag="DORA-2", is_blocked=True),
        "expired": ChargeCard.objects.create(user=world.dora, id_tag="DORA-3", expires_at=past),
        "oscar": ChargeCard.objects.create(user=world.oscar, id_tag="OSCAR-1"),
        "dave": ChargeCard.objects.create(user=world.dave, id_tag="DAVE-1"),
    }


class TestAuthorize:
    @pytest.mark.parametrize(
        ("id_tag", "charger", "answer"),
        [
            ("DORA-1", "charger_a1", {"status": "Accepted", "expiryDate": "2031-01-01T00:00:00Z"}),
            ("dora-1", "charger_a1", {"status": "Accepted", "expiryDate": "2031-01-01T00:00:00Z"}),
            ("DORA-2", "charger_a1", {"status": "Blocked"}),
            ("DORA-3", "charger_a1", {"status": "Expired"}),
            ("OSCAR-1", "charger_a1", {"status": "Invalid"}),
            ("NOBODY", "charger_a1", {"status": "Invalid"}),
            ("DAVE-1", "charger_a1", {"status": "Accepted"}),
            ("DAVE-1", "charger_a2", {"status": "Invalid"}),
        ],
    )
    def test_the_answer_is_the_authorization_decision(
        self,
        world: World,
        chargers: Chargers,
        cards: dict[str, ChargeCard],
        id_tag: str,
        charger: str,
        answer: dict[str, str],
    ) -> None:
        test_charger = chargers.connect(getattr(world, charger))
        reply = test_charger.call("Authorize", {"idTag": id_tag}, unique_id="auth")
        assert reply == [3, "auth", {"idTagInfo": answer}]

    def test_an_open_installation_accepts_anyone(
        self, world: World, a1: TestCharger, cards: dict[str, ChargeCard]
    ) -> None:
        world.site_a.authorization_mode = AuthorizationMode.OPEN
        world.site_a.save(update_fields=["authorization_mode"])
        assert a1.result("Authorize", {"idTag": "NOBODY"}) == {"idTagInfo": {"status": "Accepted"}}


class TestNotifications:
    def test_data_transfer_is_recorded_and_the_vendor_is_unknown(
        self, world: World, a1: TestCharger
    ) -> None:
        payload = {"vendorId": "com.acme", "messageId": "Diag", "data": '{"temp": 41}'}
        assert a1.call("DataTransfer", payload) == [3, "m1", {"status": "UnknownVendorId"}]
        a1.settle()
        event = ChargerEvent.objects.get(charger=world.charger_a1, kind=EventKind.DATA_TRANSFER)
        assert (event.summary, event.data) == ("Data transfer from com.acme (Diag)", payload)

    @pytest.mark.parametrize(
        ("action", "status", "kind", "summary"),
        [
            ("DiagnosticsStatusNotification", "Uploaded", EventKind.DIAGNOSTICS, "Diagnostics upload: Uploaded"),
            ("FirmwareStatusNotification", "Installed", EventKind.FIRMWARE, "Firmware update: Installed"),
        ],
    )  # fmt: skip
    def test_diagnostics_and_firmware_status_are_events(
        self,
        world: World,
        a1: TestCharger,
        action: str,
        status: str,
        kind: EventKind,
        summary: str,
    ) -> None:
        assert a1.call(action, {"status": status}) == [3, "m1", {}]
        a1.settle()
        event = ChargerEvent.objects.get(charger=world.charger_a1, kind=kind)
        assert (event.summary, event.data) == (summary, {"status": status})
