"""Sessions closed when the evidence arrives (issue #11 items 2 and 3): a reboot, a connector
Available again without StopTransaction, a charger offline too long; then a late or repeated
StopTransaction from the charger's offline queue replaces the inferred values, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.test import override_settings

from auth_access.models import ChargeCard
from chargers.choices import SessionStatus, StopReason
from chargers.models import Charger, ChargeSession, MeterValue
from commands.routing import live_states
from ocpp_bridge import sweeps, tasks
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, TestCharger
from tests.ocpp.test_transactions import _meter_values, at, sample, start, stop

BOOT = {"chargePointVendor": "Sim", "chargePointModel": "S1"}


@pytest.fixture
def dora_card(world: World) -> ChargeCard:
    return ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")


@pytest.fixture
def a1(world: World, chargers: Chargers, dora_card: ChargeCard) -> TestCharger:
    return chargers.connect(world.charger_a1)


def _charging(a1: TestCharger, now: datetime) -> int:
    """A session started 10 minutes ago, charging, with a register of 5,400 Wh 2 minutes ago."""
    tx = a1.result("StartTransaction", start(meter=1000, when=at(-10, now)))["transactionId"]
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    a1.result("StatusNotification", {**status, "timestamp": at(-10, now)})
    register = sample("5.4", "Energy.Active.Import.Register", unit="kWh")
    a1.result("MeterValues", _meter_values(1, tx, at(-2, now), register))
    return tx


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class TestInferred:
    def test_a_reboot_closes_the_session_at_its_last_meter_value(
        self, world: World, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        now = _now()
        tx = _charging(a1, now)
        with mock.patch("ocpp_bridge.persistence.sessions.charger_changed") as triggered:
            assert a1.result("BootNotification", BOOT)["status"] == "Accepted"
            a1.settle()
        session = ChargeSession.objects.get(pk=tx)
        assert session.status == SessionStatus.COMPLETED
        assert (session.stopped_at, session.meter_stop_wh) == (now - timedelta(minutes=2), 5400)
        assert (session.energy_wh, session.stop_reason) == (4400, StopReason.REBOOT)
        assert session.stop_inferred
        assert session.charging_seconds == 8 * 60
        assert any("Reboot" in str(call) for call in triggered.call_args_list), (
            triggered.call_args_list
        )
        live = live_states([world.charger_a1.pk])[world.charger_a1.pk]
        assert live.energy_wh is None  # no session in progress any more

    def test_a_reboot_without_meter_values_closes_at_the_boot_time(
        self, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        tx = a1.result("StartTransaction", start(meter=700, when=at(-5, _now())))["transactionId"]
        before = datetime.now(UTC)
        a1.result("BootNotification", BOOT)
        a1.settle()
        session = ChargeSession.objects.get(pk=tx)
        assert session.stopped_at >= before - timedelta(seconds=1)
        assert (session.meter_stop_wh, session.energy_wh) == (700, 0)
        assert (session.stop_reason, session.stop_inferred) == (StopReason.REBOOT, True)

    @pytest.mark.parametrize("last", ["Charging", "Finishing", "SuspendedEV", "SuspendedEVSE"])
    def test_available_without_stop_transaction_closes_it_as_ev_disconnected(
        self, a1: TestCharger, bridge: BridgeHandle, last: str
    ) -> None:
        now = _now()
        tx = _charging(a1, now)
        status = {"connectorId": 1, "errorCode": "NoError"}
        a1.result("StatusNotification", {**status, "status": last, "timestamp": at(-1, now)})
        assert ChargeSession.objects.get(pk=tx).status == SessionStatus.ACTIVE
        a1.result("StatusNotification", {**status, "status": "Available", "timestamp": at(0, now)})
        a1.settle()
        session = ChargeSession.objects.get(pk=tx)
        assert session.status == SessionStatus.COMPLETED
        assert (session.stop_reason, session.stop_inferred) == (StopReason.EV_DISCONNECTED, True)
        assert (session.stopped_at, session.meter_stop_wh) == (now - timedelta(minutes=2), 5400)

    def test_a_preparing_connector_going_available_is_no_evidence(
        self, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        now = _now()
        tx = a1.result("StartTransaction", start(when=at(-1, now)))["transactionId"]
        status = {"connectorId": 1, "errorCode": "NoError", "timestamp": at(0, now)}
        a1.result("StatusNotification", {**status, "status": "Preparing"})
        a1.result("StatusNotification", {**status, "status": "Available"})
        a1.settle()
        assert ChargeSession.objects.get(pk=tx).status == SessionStatus.ACTIVE

    def test_a_charger_offline_too_long_has_its_sessions_closed_by_the_sweep(
        self, world: World, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        now = _now()
        tx = _charging(a1, now)
        a1.settle()
        a1.abort()
        charger = Charger.objects.filter(pk=world.charger_a1.pk)
        for _ in range(200):
            if not charger.get().is_online:
                break
            bridge.flush()
        seen = now - timedelta(minutes=30)
        charger.update(is_online=False, last_seen_at=seen)
        with override_settings(SESSION_OFFLINE_CLOSE_MINUTES=60):
            assert sweeps.close_sessions_of_offline_chargers() == 0
            assert ChargeSession.objects.get(pk=tx).status == SessionStatus.ACTIVE
        with override_settings(SESSION_OFFLINE_CLOSE_MINUTES=20):
            assert list(charger.values_list("is_online", "last_seen_at")) == [(False, seen)]
            assert sweeps.close_sessions_of_offline_chargers() == 1
            assert sweeps.close_sessions_of_offline_chargers() == 0  # idempotent
        session = ChargeSession.objects.get(pk=tx)
        assert (session.stop_reason, session.stop_inferred) == (StopReason.POWER_LOSS, True)
        assert (session.stopped_at, session.meter_stop_wh) == (now - timedelta(minutes=2), 5400)


class TestLateStopTransaction:
    def test_a_late_stop_replaces_the_inferred_values_and_a_repeat_changes_nothing(
        self, world: World, chargers: Chargers, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        now = _now()
        tx = _charging(a1, now)
        a1.result("BootNotification", BOOT)
        a1.settle()
        assert ChargeSession.objects.get(pk=tx).stop_inferred
        data = [
            {
                "timestamp": at(-1, now),
                "sampledValue": [
                    sample("5600", "Energy.Active.Import.Register", context="Transaction.End")
                ],
            }
        ]
        payload = stop(tx, 5600, at(-1, now), reason="PowerLoss", idTag="DORA-1")
        payload["transactionData"] = data
        for attempt in range(2):  # the offline queue sends it again after the next reconnect
            reply = a1.call("StopTransaction", payload, unique_id=f"stop-{attempt}")
            assert reply == [3, f"stop-{attempt}", {"idTagInfo": {"status": "Accepted"}}]
            a1.settle()
            session = ChargeSession.objects.get(pk=tx)
            assert session.status == SessionStatus.COMPLETED
            assert (session.stopped_at, session.meter_stop_wh) == (now - timedelta(minutes=1), 5600)
            assert (session.energy_wh, session.stop_reason) == (4600, StopReason.POWER_LOSS)
            assert (session.stop_inferred, session.stop_id_tag) == (False, "DORA-1")
            ends = MeterValue.objects.filter(transaction_id=tx, context="Transaction.End")
            assert ends.count() == 1

    def test_a_duplicate_stop_of_a_normal_session_is_accepted_and_changes_nothing(
        self, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        now = _now()
        tx = a1.result("StartTransaction", start(meter=100, when=at(-3, now)))["transactionId"]
        payload = stop(tx, 900, at(0, now), idTag="DORA-1")
        first = a1.call("StopTransaction", payload, unique_id="s1")
        a1.settle()
        again = a1.call("StopTransaction", payload, unique_id="s2")
        a1.settle()
        assert first[2] == again[2] == {"idTagInfo": {"status": "Accepted"}}
        session = ChargeSession.objects.get(pk=tx)
        assert (session.meter_stop_wh, session.energy_wh, session.stop_inferred) == (
            900,
            800,
            False,
        )
        assert session.stop_reason == StopReason.LOCAL


class TestOfflineSweep:
    def test_without_meter_values_the_session_ends_when_the_charger_was_last_seen(
        self, world: World, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        now = _now()
        tx = a1.result("StartTransaction", start(meter=300, when=at(-90, now)))["transactionId"]
        a1.settle()
        a1.close()
        bridge.flush()
        seen = now - timedelta(minutes=75)
        Charger.objects.filter(pk=world.charger_a1.pk).update(is_online=False, last_seen_at=seen)
        assert settings.SESSION_OFFLINE_CLOSE_MINUTES == 60
        assert tasks.close_offline_sessions() == 1
        session = ChargeSession.objects.get(pk=tx)
        assert (session.stopped_at, session.meter_stop_wh, session.energy_wh) == (seen, 300, 0)
        assert (session.stop_reason, session.stop_inferred) == (StopReason.POWER_LOSS, True)
        assert "close-offline-sessions" in settings.CELERY_BEAT_SCHEDULE

    def test_an_online_charger_keeps_its_sessions(
        self, world: World, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        tx = a1.result("StartTransaction", start(when=at(-300, _now())))["transactionId"]
        a1.settle()
        old = _now() - timedelta(hours=5)
        Charger.objects.filter(pk=world.charger_a1.pk).update(is_online=True, last_seen_at=old)
        assert tasks.close_offline_sessions() == 0
        assert ChargeSession.objects.get(pk=tx).status == SessionStatus.ACTIVE
