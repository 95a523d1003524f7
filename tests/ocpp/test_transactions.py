"""Charging sessions: StartTransaction, MeterValues, StopTransaction, retries, offline replay,
charging time, live state, and meter values written in batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auth_access.models import ChargeCard
from chargers.choices import EventKind, SessionStatus, StopReason
from chargers.models import ChargerEvent, ChargeSession, MeterValue
from commands.routing import live_states
from ocpp_bridge.connection import run_in_turn
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, TestCharger, eventually, start_bridge

T0 = datetime(2026, 2, 1, 18, 0, tzinfo=UTC)


def at(minutes: float, base: datetime = T0) -> str:
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def start(id_tag: str = "DORA-1", meter: int = 1000, when: str = at(0), connector: int = 1) -> dict:
    return {"connectorId": connector, "idTag": id_tag, "meterStart": meter, "timestamp": when}


def stop(tx: int, meter: int, when: str, **extra: Any) -> dict:
    return {"transactionId": tx, "meterStop": meter, "timestamp": when, **extra}


def sample(value: str, measurand: str, **extra: str) -> dict[str, str]:
    return {"value": value, "measurand": measurand, **extra}


@pytest.fixture
def dora_card(world: World) -> ChargeCard:
    return ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")


@pytest.fixture
def a1(world: World, chargers: Chargers) -> TestCharger:
    return chargers.connect(world.charger_a1)


class TestStartAndStop:
    def test_an_accepted_start_creates_the_session_of_the_card_holder(
        self, world: World, a1: TestCharger, dora_card: ChargeCard
    ) -> None:
        reply = a1.call("StartTransaction", {**start(), "reservationId": 7}, unique_id="s1")
        session = ChargeSession.objects.get()
        assert reply == [
            3,
            "s1",
            {"transactionId": session.pk, "idTagInfo": {"status": "Accepted"}},
        ]
        assert (session.charger, session.connector.connector_id, session.id_tag) == (
            world.charger_a1,
            1,
            "DORA-1",
        )
        assert (session.user, session.card) == (world.dora, dora_card)
        assert (session.started_at, session.meter_start_wh, session.reservation_id) == (T0, 1000, 7)
        assert session.status == SessionStatus.ACTIVE

    def test_a_refused_card_still_gets_a_transaction_id_to_stop_with(
        self, world: World, a1: TestCharger
    ) -> None:
        reply = a1.result("StartTransaction", start(id_tag="STRANGER"))
        session = ChargeSession.objects.get()
        assert reply == {"transactionId": session.pk, "idTagInfo": {"status": "Invalid"}}
        assert (session.user, session.card) == (None, None)

    def test_a_retried_start_returns_the_same_transaction_and_creates_nothing(
        self, a1: TestCharger, dora_card: ChargeCard
    ) -> None:
        first = a1.result("StartTransaction", start())
        again = a1.result("StartTransaction", start())
        assert again == first
        assert ChargeSession.objects.count() == 1

    def test_stop_completes_the_session_with_energy_reason_and_transaction_data(
        self, world: World, a1: TestCharger, bridge: BridgeHandle, dora_card: ChargeCard
    ) -> None:
        tx = a1.result("StartTransaction", start(meter=1000))["transactionId"]
        end = sample("5.5", "Energy.Active.Import.Register", unit="kWh", context="Transaction.End")
        data = [{"timestamp": at(30), "sampledValue": [end]}]
        reply = a1.call(
            "StopTransaction",
            stop(tx, 5500, at(30), reason="EVDisconnected", idTag="DORA-1", transactionData=data),
            unique_id="s2",
        )
        assert reply == [3, "s2", {"idTagInfo": {"status": "Accepted"}}]
        session = ChargeSession.objects.get(pk=tx)
        assert session.status == SessionStatus.COMPLETED
        assert (session.stopped_at, session.meter_stop_wh, session.energy_wh) == (
            T0 + timedelta(minutes=30),
            5500,
            4500,
        )
        assert (session.stop_reason, session.stop_id_tag) == (StopReason.EV_DISCONNECTED, "DORA-1")
        assert session.connected_seconds == 1800
        bridge.flush()
        stored = MeterValue.objects.get(transaction_id=tx)
        assert (stored.value, stored.unit, stored.context, stored.connector_id) == (
            5.5,
            "kWh",
            "Transaction.End",
            1,
        )

    def test_stop_without_reason_is_local_and_a_retry_changes_nothing(
        self, a1: TestCharger, dora_card: ChargeCard
    ) -> None:
        tx = a1.result("StartTransaction", start(meter=0))["transactionId"]
        assert a1.result("StopTransaction", stop(tx, 700, at(10))) == {}
        assert a1.result("StopTransaction", stop(tx, 900, at(11))) == {}
        session = ChargeSession.objects.get(pk=tx)
        assert (session.stop_reason, session.energy_wh) == (StopReason.LOCAL, 700)

    def test_stopping_an_unknown_transaction_is_answered(self, a1: TestCharger) -> None:
        assert a1.call("StopTransaction", stop(999999, 10, at(1))) == [3, "m1", {}]

    def test_a_new_start_ends_a_session_the_charger_never_stopped(
        self, a1: TestCharger, dora_card: ChargeCard
    ) -> None:
        old = a1.result("StartTransaction", start(meter=0))["transactionId"]
        new = a1.result("StartTransaction", start(meter=800, when=at(60)))["transactionId"]
        assert new != old
        lost = ChargeSession.objects.get(pk=old)
        assert (lost.status, lost.stop_reason, lost.stopped_at) == (
            SessionStatus.COMPLETED,
            StopReason.OTHER,
            T0 + timedelta(hours=1),
        )
        assert ChargeSession.objects.get(pk=new).status == SessionStatus.ACTIVE

    def test_charging_time_counts_only_while_the_connector_reports_charging(
        self, a1: TestCharger, dora_card: ChargeCard
    ) -> None:
        def status(state: str, minutes: float) -> None:
            a1.result(
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": state,
                    "timestamp": at(minutes),
                },
            )
            a1.settle()  # statuses are stored behind the answers

        status("Preparing", 0)
        tx = a1.result("StartTransaction", start())["transactionId"]
        status("Charging", 1)
        status("SuspendedEV", 21)  # 20 min charging
        assert ChargeSession.objects.get(pk=tx).charging_since is None
        status("Charging", 30)
        assert ChargeSession.objects.get(pk=tx).charging_since == T0 + timedelta(minutes=30)
        a1.result("StopTransaction", stop(tx, 9000, at(40)))  # +10 min
        session = ChargeSession.objects.get(pk=tx)
        assert (session.charging_seconds, session.charging_since) == (30 * 60, None)
        assert session.connected_seconds == 40 * 60


def test_writes_behind_the_answers_keep_the_chargers_order(
    a1: TestCharger, dora_card: ChargeCard
) -> None:
    """No settling in between: each status is answered before it is stored, yet the stop is
    stored after both, and the charging clock adds up."""
    tx = a1.result("StartTransaction", start())["transactionId"]
    for status, minute in [("Charging", 1), ("SuspendedEV", 21), ("Charging", 30)]:
        a1.result(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": status, "timestamp": at(minute)},
        )
    a1.result("StopTransaction", stop(tx, 9000, at(40)))
    session = ChargeSession.objects.get(pk=tx)
    assert (session.charging_seconds, session.charging_since) == (30 * 60, None)


def test_writes_queued_while_the_database_is_busy_go_in_one_hop_in_order(
    world: World, a1: TestCharger, bridge: BridgeHandle, dora_card: ChargeCard
) -> None:
    """A charger's calls that queue up meanwhile reach a database thread together (one wait for
    a thread, not one each), and still run in the charger's order."""
    hops: list[list[str]] = []
    database = bridge.bridge.db

    async def busy_database(function: Any, *args: Any) -> Any:
        if function is run_in_turn:
            hops.append([call.__name__ for call, _ in args[0]])
            if len(hops) == 1:
                await asyncio.sleep(0.5)  # busy: the next calls queue up
        return await database(function, *args)

    def status(name: str, minute: int) -> None:
        payload = {"connectorId": 1, "errorCode": "NoError", "status": name}
        assert a1.result("StatusNotification", {**payload, "timestamp": at(minute)}) == {}

    bridge.bridge.db = busy_database  # type: ignore[assignment]
    try:
        status("Preparing", 0)
        status("Charging", 1)
        status("SuspendedEV", 21)
        assert a1.result("DataTransfer", {"vendorId": "com.acme"}) == {"status": "UnknownVendorId"}
        assert a1.result("StartTransaction", start())["transactionId"]  # waits for the others
        a1.settle()
    finally:
        bridge.bridge.db = database  # type: ignore[method-assign]
    assert hops[:2] == [
        ["record_status"],
        ["record_status", "record_status", "record_event", "start_transaction"],
    ]
    kinds = [EventKind.STATUS, EventKind.DATA_TRANSFER]
    events = ChargerEvent.objects.filter(charger=world.charger_a1, kind__in=kinds)
    summaries = list(events.order_by("pk").values_list("summary", flat=True))
    assert summaries == [
        "Connector 1: Preparing",
        "Connector 1: Charging",
        "Connector 1: SuspendedEV",
        "Data transfer from com.acme",
    ]


def _meter_values(connector: int, tx: int | None, when: str, *samples: dict) -> dict:
    payload: dict[str, Any] = {
        "connectorId": connector,
        "meterValue": [{"timestamp": when, "sampledValue": list(samples)}],
    }
    if tx is not None:
        payload["transactionId"] = tx
    return payload


THREE_PHASES = [
    sample("15.5", "Current.Import", phase="L1", unit="A"),
    sample("16", "Current.Import", phase="L2", unit="A"),
    sample("15.75", "Current.Import", phase="L3", unit="A"),
    sample("230.1", "Voltage", phase="L1-N", unit="V"),
    sample("229.8", "Voltage", phase="L2-N", unit="V"),
    sample("231", "Voltage", phase="L3-N", unit="V"),
    sample("10.9", "Power.Active.Import", unit="kW"),
    sample("3.25", "Energy.Active.Import.Register", unit="kWh"),
    sample("41", "SoC", unit="Percent", location="EV"),
    sample("32", "Current.Offered", unit="A"),
    sample("31.5", "Temperature", unit="Celsius", location="Body"),
]


class TestMeterValues:
    def test_every_measurand_is_stored_and_moves_the_session_and_live_state(
        self, world: World, a1: TestCharger, bridge: BridgeHandle, dora_card: ChargeCard
    ) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        tx = a1.result("StartTransaction", start(meter=1250, when=at(0, now)))["transactionId"]
        soc = sample("41", "SoC", unit="Percent")  # measured at the outlet side: shown live
        reply = a1.call("MeterValues", _meter_values(1, tx, at(1, now), *THREE_PHASES, soc))
        assert reply == [3, "m1", {}]
        clock = sample("3300", "Energy.Active.Import.Register", context="Sample.Clock")
        a1.result("MeterValues", _meter_values(1, None, at(2, now), clock))
        bridge.flush()

        rows = MeterValue.objects.filter(charger=world.charger_a1)
        assert rows.count() == len(THREE_PHASES) + 2
        stored = {(r.measurand, r.phase): r for r in rows.filter(transaction_id=tx)}
        assert stored[("Current.Import", "L2")].value == 16
        assert stored[("Voltage", "L3-N")].unit == "V"
        assert stored[("Power.Active.Import", "")].value == 10.9
        assert stored[("SoC", "")].location in ("EV", "")
        assert stored[("Temperature", "")].context == "Sample.Periodic"  # the 1.6 default
        assert stored[("Current.Import", "L1")].timestamp == now + timedelta(minutes=1)
        clocked = rows.get(context="Sample.Clock")
        assert (clocked.unit, clocked.transaction_id) == ("Wh", None)

        assert ChargeSession.objects.get(pk=tx).energy_wh == 3300 - 1250
        live = live_states([world.charger_a1.pk])[world.charger_a1.pk]
        assert live.current_a == [15.5, 16.0, 15.75]
        assert (live.power_w, live.energy_wh, live.soc_percent) == (10900.0, 2050.0, 41.0)

    def test_live_state_sums_the_connectors_of_a_charger(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        a2 = chargers.connect(world.charger_a2)
        now = at(0, datetime.now(UTC))
        for connector, amps in ((1, "10"), (2, "6")):
            a2.result(
                "MeterValues",
                _meter_values(
                    connector,
                    None,
                    now,
                    sample(amps, "Current.Import", phase="L1"),
                    sample("2300", "Power.Active.Import", phase="L1", unit="W"),
                ),
            )
        bridge.flush()
        live = live_states([world.charger_a2.pk])[world.charger_a2.pk]
        assert (live.current_a, live.power_w) == ([16.0, None, None], 4600.0)

    def test_signed_and_garbled_samples_are_skipped(
        self, world: World, a1: TestCharger, bridge: BridgeHandle
    ) -> None:
        payload = _meter_values(
            1,
            None,
            at(0),
            sample("AB12CD", "Energy.Active.Import.Register", format="SignedData"),
            sample("NaN", "Voltage"),
            sample("230", "Voltage"),
        )
        assert a1.result("MeterValues", payload) == {}
        bridge.flush()
        assert list(MeterValue.objects.values_list("measurand", "value")) == [("Voltage", 230.0)]


class TestOfflineReplay:
    def test_what_a_charger_queued_offline_is_stored_at_its_own_timestamps(
        self, world: World, a1: TestCharger, bridge: BridgeHandle, dora_card: ChargeCard
    ) -> None:
        yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        tx = a1.result("StartTransaction", start(meter=0, when=at(0, yesterday)))["transactionId"]
        for minute in (15, 30, 45):
            a1.result(
                "MeterValues",
                _meter_values(
                    1,
                    tx,
                    at(minute, yesterday),
                    sample(str(minute * 100), "Energy.Active.Import.Register"),
                ),
            )
        a1.result("StopTransaction", stop(tx, 6000, at(60, yesterday), reason="Local"))
        bridge.flush()

        session = ChargeSession.objects.get(pk=tx)
        assert (session.started_at, session.stopped_at) == (
            yesterday,
            yesterday + timedelta(hours=1),
        )
        assert session.energy_wh == 6000  # the stop is final, however late the samples land
        stamps = list(
            MeterValue.objects.filter(transaction_id=tx)
            .order_by("timestamp")
            .values_list("timestamp", flat=True)
        )
        assert stamps == [yesterday + timedelta(minutes=m) for m in (15, 30, 45)]
        live = live_states([world.charger_a1.pk])[world.charger_a1.pk]
        assert live.energy_wh is None  # day-old samples do not pose as live readings


class TestBatching:
    def test_meter_values_are_written_in_batches_not_per_sample(self, world: World) -> None:
        handle = start_bridge(meter_flush_interval_s=60, meter_flush_rows=100_000)
        pool = Chargers(handle)
        try:
            a1 = pool.connect(world.charger_a1)
            for minute in range(40):
                a1.result("MeterValues", _meter_values(1, None, at(minute), *THREE_PHASES[:5]))
            assert handle.bridge.meters.pending == 200
            assert MeterValue.objects.count() == 0  # nothing written per message
            handle.flush()
            assert MeterValue.objects.count() == 200
            meters = handle.bridge.meters
            assert (meters.batches_written, meters.rows_written) == (1, 200)
        finally:
            pool.close()
            eventually(lambda: not handle.bridge.server.connections)
            from tests.ocpp.conftest import stop_bridge

            stop_bridge(handle)

    def test_a_full_buffer_and_the_interval_both_trigger_a_flush(self, world: World) -> None:
        from tests.ocpp.conftest import stop_bridge

        handle = start_bridge(meter_flush_interval_s=0.2, meter_flush_rows=10)
        pool = Chargers(handle)
        try:
            a1 = pool.connect(world.charger_a1)
            a1.result("MeterValues", _meter_values(1, None, at(0), *THREE_PHASES[:3]))
            eventually(lambda: MeterValue.objects.count() == 3, timeout=3)
            handle.bridge.meters.interval_s = 60
            eventually(lambda: handle.bridge.meters.pending == 0)
            a1.result("MeterValues", _meter_values(1, None, at(1), *THREE_PHASES))
            eventually(lambda: MeterValue.objects.count() == 3 + len(THREE_PHASES), timeout=3)
        finally:
            pool.close()
            eventually(lambda: not handle.bridge.server.connections)
            stop_bridge(handle)
