"""One simulated charger against a tiny central system over a real websocket (no Django).

Boot, heartbeats and statuses; a whole charging session; obeying charging profiles within
seconds; an answer to every command the bridge can send; and the offline queue: transaction
messages with their own timestamps, replayed in order after the connection comes back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from commands.choices import CommandAction
from ocpp_bridge.simulator.car import Car, CarModel
from ocpp_bridge.simulator.charger import SimulatedCharger
from ocpp_bridge.simulator.settings import SimSettings
from ocpp_bridge.simulator.station import ChargerSpec
from tests.simulator.central import CentralSystem

SPEC = ChargerSpec(
    "SIM-T1",
    "secret-one",
    phases=3,
    phase_rotation="L2L3L1",
    max_current_a=32,
    failsafe_current_a=8,
    vendor="Fusebox",
    model="SimCharger",
    firmware_version="1.0.0",
)
CAR = CarModel("Saloon 3x32A", 100_000, 3, 32)


def settings(url: str, **overrides: Any) -> SimSettings:
    fast = {
        "url": url,
        "meter_interval_s": 1,
        "ws_ping_interval_s": 0,
        "response_timeout_s": 5,
        "cars": False,
        "tick_s": 0.2,
        "reconnect_s": (0.2, 0.5),
        "reboot_s": 0.3,
    }
    return SimSettings(**{**fast, **overrides})


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(40):
            await scenario()

    asyncio.run(bounded())


@asynccontextmanager
async def running(charger: SimulatedCharger) -> AsyncIterator[SimulatedCharger]:
    task = asyncio.create_task(charger.run())
    try:
        yield charger
    finally:
        await charger.stop()
        await asyncio.wait_for(task, 10)


async def plug(
    charger: SimulatedCharger,
    connector_id: int = 1,
    tag: str = "CARD-1",
    *,
    online: bool = True,
    current_a: float = 0.0,
) -> Car:
    """A car with room in its battery is plugged in and its driver presents ``tag`` at once
    (once the charger is connected and booted, unless ``online`` is False)."""
    if online:
        await asyncio.wait_for(_until(lambda: charger._reporting), 10)
    connector = charger.station.connectors[connector_id]
    connector.car = Car(CAR, soc=0.3, target_soc=1.0, id_tag=tag, current_a=current_a)
    connector.leave_at = None
    connector.swipe_at = time.monotonic()
    charger.poke()
    return connector.car


def readings(payload: dict[str, Any], measurand: str) -> dict[str, float]:
    """Phase (or "") -> value of one measurand in a MeterValues payload."""
    return {
        value.get("phase", ""): float(value["value"])
        for sample in payload["meter_value"]
        for value in sample["sampled_value"]
        if value.get("measurand") == measurand
    }


def statuses(cs: CentralSystem, connector_id: int) -> list[str]:
    return [
        s["status"] for s in cs.calls("StatusNotification") if s["connector_id"] == connector_id
    ]


def is_subsequence(wanted: list[str], seen: list[str]) -> bool:
    remaining = iter(seen)
    return all(any(item == other for other in remaining) for item in wanted)


def test_boots_heartbeats_at_the_given_interval_and_reports_status() -> None:
    async def scenario() -> None:
        impostor = replace(SPEC, identity="SIM-T2", password="wrong")
        passwords = {SPEC.identity: SPEC.password, "SIM-T2": "right"}
        async with CentralSystem(passwords, heartbeat_interval_s=1) as cs:
            charger = SimulatedCharger(SPEC, settings(cs.url))
            refused = SimulatedCharger(impostor, settings(cs.url))
            async with running(charger), running(refused):
                await cs.wait_for(lambda: len(cs.calls("Heartbeat")) >= 3, what="3 heartbeats")
            boot = cs.calls("BootNotification")[0]
            assert boot["charge_point_vendor"] == "Fusebox"
            assert boot["firmware_version"] == "1.0.0"
            assert charger.config.get_int("HeartbeatInterval") == 1
            assert statuses(cs, 0) == ["Available"] and statuses(cs, 1) == ["Available"]
            assert {r.identity for r in cs.received} == {SPEC.identity}
            assert refused.stats.connect_failures["HTTP 401"] >= 1
            assert ("SIM-T2", 401) in cs.refused

    run(scenario)


def test_a_charging_session_from_plug_in_to_unplug() -> None:
    async def scenario() -> None:
        async with CentralSystem({SPEC.identity: SPEC.password}) as cs:
            charger = SimulatedCharger(SPEC, settings(cs.url))
            async with running(charger):
                await plug(charger, tag="CARD-1")
                start = await cs.wait_for(lambda: cs.calls("StartTransaction"), what="start")
                tx_id = start[0]["transaction_id"]
                meters = await cs.wait_for(
                    lambda: [m for m in cs.calls("MeterValues") if readings(m, "Current.Import")]
                    and len(cs.calls("MeterValues")) >= 3 and cs.calls("MeterValues"),
                    what="meter values",
                )  # fmt: skip
                connector = charger.station.connectors[1]
                charger.stop_transaction(connector, "Local", id_tag="CARD-1")
                connector.unplug_at = time.monotonic() + 0.3
                stop = await cs.wait_for(lambda: cs.calls("StopTransaction"), what="stop")
                await cs.wait_for(lambda: statuses(cs, 1)[-1] == "Available", what="available")
        assert cs.calls("Authorize")[0]["id_tag"] == "CARD-1"
        assert start[0]["connector_id"] == 1 and start[0]["id_tag"] == "CARD-1"
        last = meters[-1]
        assert last["transaction_id"] == tx_id
        # A 3-phase car on a charger wired L2 L3 L1: every installation phase carries it.
        currents = readings(last, "Current.Import")
        assert set(currents) == {"L1", "L2", "L3"} and min(currents.values()) > 0
        assert set(readings(last, "Voltage")) == {"L1-N", "L2-N", "L3-N"}
        assert readings(last, "SoC")[""] >= 30
        assert readings(last, "Power.Active.Import")[""] > 0
        stop_call = stop[0]
        assert stop_call["transaction_id"] == tx_id and stop_call["reason"] == "Local"
        assert stop_call["meter_stop"] > start[0]["meter_start"]
        contexts = [d["sampled_value"][0]["context"] for d in stop_call["transaction_data"]]
        assert contexts == ["Transaction.Begin", "Transaction.End"]
        wanted = ["Available", "Preparing", "Charging", "Finishing", "Available"]
        assert is_subsequence(wanted, statuses(cs, 1)), statuses(cs, 1)

    run(scenario)


def test_a_refused_card_starts_nothing() -> None:
    async def scenario() -> None:
        async with CentralSystem({SPEC.identity: SPEC.password}) as cs:
            cs.rejected_tags = {"STOLEN"}
            charger = SimulatedCharger(SPEC, settings(cs.url, speed=60))
            async with running(charger):
                await plug(charger, tag="STOLEN")
                await cs.wait_for(lambda: cs.calls("Authorize"), what="authorize")
                await cs.wait_for(lambda: statuses(cs, 1)[-1:] == ["Available"], what="gone")
        assert cs.calls("StartTransaction") == []
        assert is_subsequence(["Preparing", "Available"], statuses(cs, 1))

    run(scenario)


def test_obeys_charging_profiles_within_seconds() -> None:
    async def scenario() -> None:
        async with CentralSystem({SPEC.identity: SPEC.password}) as cs:
            charger = SimulatedCharger(SPEC, settings(cs.url))
            async with running(charger):
                await plug(charger, current_a=32)  # already charging at full speed
                await cs.wait_for(
                    lambda: any(
                        readings(m, "Current.Import").get("L2", 0) > 30
                        for m in cs.calls("MeterValues")
                    ),
                    what="full current",
                )
                tx_id = cs.calls("StartTransaction")[0]["transaction_id"]

                async def limit_reached(amperes: float, since: float) -> float:
                    def reached() -> bool:
                        return any(
                            r.at > since
                            and r.action == "MeterValues"
                            and readings(r.payload, "Current.Import")
                            and all(
                                abs(v - amperes) < 0.2
                                for v in readings(r.payload, "Current.Import").values()
                            )
                            for r in cs.received
                        )

                    await cs.wait_for(reached, timeout_s=10, what=f"{amperes} A")
                    return time.monotonic() - since

                sent = time.monotonic()
                answer = await cs.command(SPEC.identity, set_profile("TxDefaultProfile", 10))
                assert answer.status == "Accepted"
                assert await limit_reached(10, sent) < 5

                sent = time.monotonic()
                pause = set_profile(
                    "TxProfile", 0, connector_id=1, profile_id=2, transaction_id=tx_id
                )
                assert (await cs.command(SPEC.identity, pause)).status == "Accepted"
                assert await limit_reached(0, sent) < 5
                await cs.wait_for(lambda: statuses(cs, 1)[-1] == "SuspendedEVSE", what="paused")

                sent = time.monotonic()
                clear = call.ClearChargingProfile(charging_profile_purpose="TxProfile")
                assert (await cs.command(SPEC.identity, clear)).status == "Accepted"
                assert await limit_reached(10, sent) < 7  # ramping up takes a little longer
                await cs.wait_for(lambda: statuses(cs, 1)[-1] == "Charging", what="charging")

                sent = time.monotonic()
                watts = set_profile("ChargePointMaxProfile", 5520, unit="W", profile_id=9)
                assert (await cs.command(SPEC.identity, watts)).status == "Accepted"
                assert await limit_reached(8, sent) < 5  # 5520 W / (3 x 230 V)

                wrong = set_profile("ChargePointMaxProfile", 10, connector_id=1)
                assert (await cs.command(SPEC.identity, wrong)).status == "Rejected"
                schedule = await cs.command(
                    SPEC.identity, call.GetCompositeSchedule(connector_id=1, duration=3600)
                )
                assert schedule.status == "Accepted"
                periods = schedule.charging_schedule["charging_schedule_period"]
                assert periods == [{"start_period": 0, "limit": 8.0}]

    run(scenario)


def set_profile(
    purpose: str,
    limit: float,
    *,
    connector_id: int = 0,
    unit: str = "A",
    profile_id: int = 1,
    transaction_id: int | None = None,
) -> call.SetChargingProfile:
    profile: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "stack_level": 1,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Relative",
        "charging_schedule": {
            "charging_rate_unit": unit,
            "charging_schedule_period": [{"start_period": 0, "limit": limit}],
        },
    }
    if transaction_id is not None:
        profile["transaction_id"] = transaction_id
    return call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile)


def test_answers_every_command_the_bridge_can_send() -> None:
    answered: dict[str, Any] = {}

    async def scenario() -> None:
        async with CentralSystem({SPEC.identity: SPEC.password}, heartbeat_interval_s=30) as cs:
            charger = SimulatedCharger(SPEC, settings(cs.url))

            async def ask(payload: Any) -> Any:
                answer = await cs.command(SPEC.identity, payload)
                answered.setdefault(type(payload).__name__, answer)
                return answer

            async with running(charger):
                await cs.wait_for(lambda: cs.calls("BootNotification"), what="boot")
                keys = ["HeartbeatInterval", "MeterValueSampleInterval", "ClockAlignedDataInterval"]
                config = await ask(call.GetConfiguration(key=[*keys, "NoSuchKey"]))
                assert [k["key"] for k in config.configuration_key] == keys
                assert config.unknown_key == ["NoSuchKey"]
                changed = await ask(call.ChangeConfiguration(key="HeartbeatInterval", value="2"))
                assert changed.status == "Accepted"
                assert (await ask(call.ClearCache())).status == "Accepted"
                local_list = [{"id_tag": "CARD-7", "id_tag_info": {"status": "Accepted"}}]
                sent = call.SendLocalList(
                    list_version=3, update_type="Full", local_authorization_list=local_list
                )
                assert (await ask(sent)).status == "Accepted"
                assert (await ask(call.GetLocalListVersion())).list_version == 3
                transfer = await ask(call.DataTransfer(vendor_id="Fusebox", message_id="ping"))
                assert transfer.status == "Accepted"
                stranger = await cs.command(SPEC.identity, call.DataTransfer(vendor_id="Acme"))
                assert stranger.status == "UnknownVendorId"

                for message in ("StatusNotification", "Heartbeat", "MeterValues"):
                    before = len(cs.calls(message))
                    trigger = call.TriggerMessage(requested_message=message, connector_id=1)
                    assert (await ask(trigger)).status == "Accepted"
                    await cs.wait_for(
                        lambda m=message, n=before: len(cs.calls(m)) > n, what=message
                    )

                until = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
                reserve = call.ReserveNow(
                    connector_id=1, expiry_date=until, id_tag="CARD-8", reservation_id=4
                )
                assert (await ask(reserve)).status == "Accepted"
                await cs.wait_for(
                    lambda: [s["status"] for s in cs.calls("StatusNotification")][-1:]
                    == ["Reserved"],
                    what="reserved",
                )  # fmt: skip
                any_connector = call.ReserveNow(
                    connector_id=0, expiry_date=until, id_tag="CARD-8", reservation_id=5
                )
                assert (await cs.command(SPEC.identity, any_connector)).status == "Rejected"
                assert (await ask(call.CancelReservation(reservation_id=4))).status == "Accepted"
                again = await cs.command(SPEC.identity, call.CancelReservation(reservation_id=4))
                assert again.status == "Rejected"
                await cs.wait_for(
                    lambda: [s["status"] for s in cs.calls("StatusNotification")][-1:]
                    == ["Available"],
                    what="available",
                )  # fmt: skip
                reserve = call.ReserveNow(
                    connector_id=1, expiry_date=until, id_tag="CARD-9", reservation_id=6
                )
                assert (await cs.command(SPEC.identity, reserve)).status == "Accepted"

                remote = call.RemoteStartTransaction(id_tag="CARD-9", connector_id=1)
                assert (await ask(remote)).status == "Accepted"
                start = await cs.wait_for(lambda: cs.calls("StartTransaction"), what="start")
                tx_id = start[0]["transaction_id"]
                assert start[0]["id_tag"] == "CARD-9"
                assert start[0]["reservation_id"] == 6  # the reservation ends with the start
                profile = set_profile("TxProfile", 16, connector_id=1, transaction_id=tx_id)
                assert (await ask(profile)).status == "Accepted"
                schedule = await ask(call.GetCompositeSchedule(connector_id=1, duration=600))
                assert schedule.charging_schedule["charging_schedule_period"][0]["limit"] == 16
                cleared = await ask(call.ClearChargingProfile(id=1))
                assert cleared.status == "Accepted"
                busy = call.ChangeAvailability(connector_id=1, type="Inoperative")
                assert (await ask(busy)).status == "Scheduled"
                back = call.ChangeAvailability(connector_id=1, type="Operative")
                assert (await cs.command(SPEC.identity, back)).status == "Accepted"

                assert (await ask(call.RemoteStopTransaction(transaction_id=tx_id))).status == (
                    "Accepted"
                )
                stop = await cs.wait_for(lambda: cs.calls("StopTransaction"), what="stop")
                assert stop[0]["reason"] == "Remote" and stop[0]["transaction_id"] == tx_id
                unknown = call.RemoteStopTransaction(transaction_id=tx_id)
                assert (await cs.command(SPEC.identity, unknown)).status == "Rejected"
                assert (await ask(call.UnlockConnector(connector_id=1))).status == "Unlocked"
                await cs.wait_for(lambda: statuses(cs, 1)[-1] == "Available", what="unlocked")

                diagnostics = await ask(call.GetDiagnostics(location="ftp://127.0.0.1/up"))
                assert diagnostics.file_name.startswith("diagnostics-SIM-T1-")
                await cs.wait_for(
                    lambda: (
                        [d["status"] for d in cs.calls("DiagnosticsStatusNotification")]
                        == ["Uploading", "Uploaded"]
                    ),
                    what="diagnostics uploaded",
                )

                assert (await ask(call.Reset(type="Soft"))).status == "Accepted"
                await cs.wait_for(lambda: len(cs.calls("BootNotification")) == 2, what="reboot")

                now = datetime.now(UTC).isoformat()
                firmware = call.UpdateFirmware(
                    location="http://127.0.0.1/firmware/2.0.0.bin", retrieve_date=now
                )
                await ask(firmware)
                await cs.wait_for(lambda: len(cs.calls("BootNotification")) == 3, what="install")
                await cs.wait_for(
                    lambda: [f["status"] for f in cs.calls("FirmwareStatusNotification")][-1:]
                    == ["Installed"],
                    what="installed",
                )  # fmt: skip
        assert cs.calls("BootNotification")[2]["firmware_version"] == "2.0.0"
        assert [f["status"] for f in cs.calls("FirmwareStatusNotification")] == [
            "Downloading", "Downloaded", "Installing", "Installed"
        ]  # fmt: skip
        assert charger.config.get_int("HeartbeatInterval") == 30  # the boot answer's, again

    run(scenario)
    assert set(answered) == {action.value for action in CommandAction}


def test_offline_it_charges_at_the_failsafe_and_replays_transaction_messages() -> None:
    spec = replace(SPEC, connectors=2)

    async def scenario() -> None:
        async with CentralSystem({spec.identity: spec.password}) as cs:
            charger = SimulatedCharger(spec, settings(cs.url))
            async with running(charger):
                await plug(charger, 1, tag="CARD-1")
                start = await cs.wait_for(lambda: cs.calls("StartTransaction"), what="start")
                first_tx = start[0]["transaction_id"]
                limit = set_profile("TxDefaultProfile", 16)
                assert (await cs.command(spec.identity, limit)).status == "Accepted"
                await cs.wait_for(
                    lambda: any(
                        readings(m, "Current.Import").get("L2") == 16
                        for m in cs.calls("MeterValues")
                    ),
                    what="16 A",
                )

                cs.refusing = True
                await cs.hang_up(spec.identity)
                await asyncio.wait_for(_until(lambda: not charger.online_event.is_set()), 5)
                went_offline = datetime.now(UTC)
                received_before = len(cs.received)
                await asyncio.sleep(1.5)
                await plug(
                    charger, 2, tag="CARD-1", online=False
                )  # known from the cache: starts offline
                await asyncio.sleep(1.5)
                charger.stop_transaction(charger.station.connectors[1], "Local", id_tag="CARD-1")
                await asyncio.sleep(0.5)
                came_back = datetime.now(UTC)
                assert len(cs.received) == received_before  # nothing got through
                queued = sum(1 for item in charger.outbox if item.transactional)
                assert queued >= 5
                cs.refusing = False

                await cs.wait_for(lambda: len(cs.calls("StartTransaction")) == 2, what="replay")
                await cs.wait_for(lambda: cs.calls("StopTransaction"), what="stop replayed")
                await cs.wait_for(
                    lambda: not any(item.transactional for item in charger.outbox), what="drained"
                )
            replayed = [r for r in cs.received[received_before:]]
        offline_meters = [
            r.payload
            for r in replayed
            if r.action == "MeterValues"
            and went_offline <= _time(r.payload["meter_value"][0]["timestamp"]) <= came_back
        ]
        assert len(offline_meters) >= 4
        stamps = [_time(m["meter_value"][0]["timestamp"]) for m in offline_meters]
        assert stamps == sorted(stamps)
        on_first = [m for m in offline_meters if m["connector_id"] == 1]
        assert {m["transaction_id"] for m in on_first} == {first_tx}
        # The dynamic 16 A limit gave way to the 8 A failsafe while the charger was offline.
        assert readings(on_first[-1], "Current.Import") == {"L1": 8, "L2": 8, "L3": 8}
        second_start = cs.calls("StartTransaction")[1]
        second_tx = second_start["transaction_id"]
        assert went_offline <= _time(second_start["timestamp"]) <= came_back
        on_second = [m for m in offline_meters if m["connector_id"] == 2]
        assert on_second and {m["transaction_id"] for m in on_second} == {second_tx}
        stop = cs.calls("StopTransaction")[0]
        assert stop["transaction_id"] == first_tx
        assert went_offline <= _time(stop["timestamp"]) <= came_back
        order = [r.action for r in replayed if r.action in ("StartTransaction", "StopTransaction")]
        assert order == ["StartTransaction", "StopTransaction"]
        assert charger.stats.dropped == {} and sum(charger.stats.timeouts.values()) == 0

    run(scenario)


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.02)


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.fixture(autouse=True)
def _clean_cache() -> None:
    """These tests need neither the database nor Redis (overrides the suite's cache cleaner)."""
