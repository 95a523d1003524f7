"""Smart charging, limits, meter readings and the key store of one charger, without a network."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocpp_bridge.simulator.car import Car, CarModel
from ocpp_bridge.simulator.configuration import Configuration
from ocpp_bridge.simulator.profiles import ChargingProfile, ProfileError
from ocpp_bridge.simulator.station import ChargerSpec, Station, Status, Transaction

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
THREE_PHASE_CAR = CarModel("3x32", 80_000, 3, 32)
ONE_PHASE_CAR = CarModel("1x32", 40_000, 1, 32)


def profile(
    purpose: str = "TxDefaultProfile",
    limit: float = 10,
    unit: str = "A",
    stack_level: int = 0,
    profile_id: int = 1,
    kind: str = "Absolute",
    periods: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "charging_profile_id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": kind,
        "charging_schedule": {
            "charging_rate_unit": unit,
            "start_schedule": "2026-11-24T09:00:00Z",
            "charging_schedule_period": periods or [{"start_period": 0, "limit": limit}],
        },
        **extra,
    }


def station(
    phases: int = 3, rotation: str = "L1L2L3", connectors: int = 1, phase_labels: str = "charger"
) -> Station:
    spec = ChargerSpec("CP-1", "pw", phases=phases, phase_rotation=rotation, connectors=connectors)
    config = Configuration(
        connectors=connectors,
        phase_rotation=rotation,
        heartbeat_interval_s=300,
        meter_interval_s=60,
        failsafe_current_a=8,
        ws_ping_interval_s=0,
    )
    result = Station(spec, config, random.Random(1), phase_labels=phase_labels)
    result.online = True
    return result


def plug(st: Station, model: CarModel = THREE_PHASE_CAR, connector_id: int = 1) -> Car:
    connector = st.connectors[connector_id]
    connector.car = Car(model, soc=0.3, target_soc=1.0)
    connector.transaction = Transaction("TAG", int(connector.register_wh), T0, transaction_id=7)
    return connector.car


def currents(st: Station, connector_id: int = 1) -> dict[str, float]:
    values = st.sampled_values(st.connectors[connector_id], ["Current.Import"], "Sample.Periodic")
    return {v["phase"]: float(v["value"]) for v in values}


def test_without_profiles_the_car_gets_the_charger_maximum() -> None:
    st = station()
    car = plug(st)
    st.advance(T0, 60, speed=1)
    assert car.current_a == pytest.approx(32)
    assert st.status_of(st.connectors[1]) == Status.CHARGING


def test_tx_default_profile_limits_and_zero_pauses() -> None:
    st = station()
    car = plug(st)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=10)))
    st.advance(T0, 10, speed=1)
    assert car.current_a == pytest.approx(10)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=0, profile_id=2)))
    st.advance(T0, 3, speed=1)
    assert car.current_a == 0
    assert st.status_of(st.connectors[1]) == Status.SUSPENDED_EVSE


def test_a_limit_below_six_amperes_pauses_rather_than_trickles() -> None:
    st = station()
    plug(st)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=4)))
    st.update_limits(T0)
    assert st.connectors[1].offered_a == 0


def test_tx_profile_beats_tx_default_and_the_charge_point_maximum_caps_both() -> None:
    st = station(connectors=2)
    car1 = plug(st, connector_id=1)
    car2 = plug(st, connector_id=2)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=10, profile_id=1)))
    st.profiles.install(ChargingProfile.from_ocpp(1, profile("TxProfile", 20, profile_id=2)))
    st.advance(T0, 20, speed=1)
    assert (car1.current_a, car2.current_a) == pytest.approx((20, 10))
    # The whole charger may take 24 A per phase: shared between the two cars.
    st.profiles.install(
        ChargingProfile.from_ocpp(0, profile("ChargePointMaxProfile", 24, profile_id=3))
    )
    st.advance(T0, 20, speed=1)
    assert (car1.current_a, car2.current_a) == pytest.approx((12, 10))


def test_higher_stack_level_wins_and_the_connectors_own_profile_beats_connector_zero() -> None:
    st = station()
    car = plug(st)
    st.profiles.install(
        ChargingProfile.from_ocpp(0, profile(limit=10, stack_level=1, profile_id=1))
    )
    st.profiles.install(
        ChargingProfile.from_ocpp(0, profile(limit=20, stack_level=2, profile_id=2))
    )
    st.advance(T0, 20, speed=1)
    assert car.current_a == pytest.approx(20)
    st.profiles.install(
        ChargingProfile.from_ocpp(1, profile(limit=14, stack_level=2, profile_id=3))
    )
    st.advance(T0, 20, speed=1)
    assert car.current_a == pytest.approx(14)
    assert st.profiles.clear(profile_id=3)
    assert not st.profiles.clear(purpose="TxProfile")


def test_power_limits_are_converted_with_the_phases_used() -> None:
    st = station()
    car = plug(st)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=6900, unit="W")))
    st.advance(T0, 20, speed=1)
    assert car.current_a == pytest.approx(10)  # 6900 W / (3 x 230 V)
    one_phase = [{"start_period": 0, "limit": 3680, "number_phases": 1}]
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(unit="W", periods=one_phase)))
    st.advance(T0, 20, speed=1)
    assert car.current_a == pytest.approx(16)  # 3680 W / 230 V on one phase
    assert currents(st) == {"L1": 16, "L2": 0, "L3": 0}


def test_schedule_periods_and_validity_are_followed_in_time() -> None:
    st = station()
    periods = [{"start_period": 0, "limit": 16}, {"start_period": 3600, "limit": 8}]
    relative = ChargingProfile.from_ocpp(0, profile(kind="Relative", periods=periods))
    st.profiles.install(relative)
    tx_start = T0
    assert st.profiles.transaction_limit(1, T0 + timedelta(minutes=30), tx_start, 7).current_a == 16
    assert st.profiles.transaction_limit(1, T0 + timedelta(minutes=90), tx_start, 7).current_a == 8
    expired = profile(limit=6, stack_level=3, profile_id=9, valid_to="2026-11-24T10:30:00Z")
    st.profiles.install(ChargingProfile.from_ocpp(0, expired))
    assert st.profiles.transaction_limit(1, T0, tx_start, 7).current_a == 6
    assert st.profiles.transaction_limit(1, T0 + timedelta(hours=1), tx_start, 7).current_a == 8
    daily = profile(
        kind="Recurring",
        recurrency_kind="Daily",
        profile_id=10,
        stack_level=5,
        periods=[{"start_period": 0, "limit": 10}, {"start_period": 7200, "limit": 20}],
    )
    st.profiles.install(ChargingProfile.from_ocpp(0, daily))  # starts 09:00 every day
    assert st.profiles.transaction_limit(1, T0 + timedelta(days=3), tx_start, 7).current_a == 10
    later = T0 + timedelta(days=3, hours=2)
    assert st.profiles.transaction_limit(1, later, tx_start, 7).current_a == 20


@pytest.mark.parametrize(
    ("connector_id", "data"),
    [
        (1, profile("ChargePointMaxProfile")),
        (0, profile("TxProfile")),
        (0, profile(periods=[{"start_period": 10, "limit": 6}])),
        (0, profile(unit="kW")),
        (0, profile(kind="Recurring")),
        (0, profile(stack_level=99)),
    ],
)
def test_impossible_profiles_are_refused(connector_id: int, data: dict[str, Any]) -> None:
    with pytest.raises(ProfileError):
        ChargingProfile.from_ocpp(connector_id, data)


def test_offline_the_failsafe_current_replaces_the_dynamic_limit() -> None:
    st = station()
    car = plug(st)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=0)))
    st.online = False
    st.advance(T0, 20, speed=1)
    assert car.current_a == pytest.approx(8)  # FailsafeCurrent
    st.online = True
    st.advance(T0, 20, speed=1)
    assert car.current_a == 0


def test_offline_a_transactions_own_schedule_is_still_followed_below_the_failsafe() -> None:
    st = station()
    car = plug(st)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=0)))
    # the schedule starts at 09:00: it waits until 10:01, then allows 16 A
    waits_then_charges = [{"start_period": 0, "limit": 0}, {"start_period": 3660, "limit": 16}]
    tx = profile("TxProfile", periods=waits_then_charges, transaction_id=7)
    st.profiles.install(ChargingProfile.from_ocpp(1, tx))
    st.online = False
    st.advance(T0 + timedelta(seconds=30), 20, speed=1)
    assert car.current_a == 0  # the schedule says wait (the failsafe alone would give 8 A)
    st.advance(T0 + timedelta(seconds=90), 20, speed=1)
    assert car.current_a == pytest.approx(8)  # the schedule's 16 A, capped by the failsafe


@pytest.mark.parametrize(
    ("phases", "rotation", "model", "expected"),
    [
        (3, "L1L2L3", THREE_PHASE_CAR, {"L1": 16, "L2": 16, "L3": 16}),
        (3, "L2L3L1", ONE_PHASE_CAR, {"L2": 16, "L3": 0, "L1": 0}),
        (1, "L3L1L2", THREE_PHASE_CAR, {"L3": 16}),
        (1, "L2L3L1", ONE_PHASE_CAR, {"L2": 16}),
    ],
)
def test_currents_are_reported_on_the_installation_phases_of_the_rotation(
    phases: int, rotation: str, model: CarModel, expected: dict[str, float]
) -> None:
    st = station(phases=phases, rotation=rotation, phase_labels="installation")
    plug(st, model)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=16)))
    st.advance(T0, 20, speed=1)
    assert currents(st) == expected


@pytest.mark.parametrize(
    ("phases", "rotation", "model", "expected"),
    [
        (3, "L2L3L1", THREE_PHASE_CAR, {"L1": 16, "L2": 16, "L3": 16}),
        (3, "L2L3L1", ONE_PHASE_CAR, {"L1": 16, "L2": 0, "L3": 0}),
        (1, "L3L1L2", ONE_PHASE_CAR, {"L1": 16}),
    ],
)
def test_by_default_currents_are_reported_on_the_chargers_own_terminals(
    phases: int, rotation: str, model: CarModel, expected: dict[str, float]
) -> None:
    """As real chargers do: the central system applies the rotation (balancing.service)."""
    st = station(phases=phases, rotation=rotation)
    plug(st, model)
    st.profiles.install(ChargingProfile.from_ocpp(0, profile(limit=16)))
    st.advance(T0, 20, speed=1)
    assert currents(st) == expected


def test_a_meter_reading_has_every_measurand_with_units() -> None:
    st = station()
    plug(st)
    st.advance(T0, 600, speed=1)
    values = st.sampled_values(
        st.connectors[1],
        st.config.get_list("MeterValuesSampledData"),
        "Sample.Periodic",
    )
    by_kind = {(v["measurand"], v.get("phase", "")): v for v in values}
    assert by_kind[("Energy.Active.Import.Register", "")]["unit"] == "Wh"
    assert by_kind[("Voltage", "L1-N")]["unit"] == "V"
    assert by_kind[("SoC", "")]["unit"] == "Percent"
    assert float(by_kind[("Current.Offered", "")]["value"]) == 32
    power = float(by_kind[("Power.Active.Import", "")]["value"])
    assert power == pytest.approx(3 * 32 * 230, rel=0.03)


def test_configuration_rules() -> None:
    st = station()
    config = st.config
    assert config.change("HeartbeatInterval", "120") == "Accepted"
    assert config.get_int("HeartbeatInterval") == 120
    assert config.change("HeartbeatInterval", "soon") == "Rejected"
    assert config.change("NumberOfConnectors", "4") == "Rejected"  # read-only
    assert config.change("NoSuchKey", "1") == "NotSupported"
    assert (
        config.change("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus") == "Rejected"
    )
    assert config.change("WebSocketPingInterval", "30") == "RebootRequired"
    known, unknown = config.report(["HeartbeatInterval", "Nope"])
    assert known == [{"key": "HeartbeatInterval", "readonly": False, "value": "120"}]
    assert unknown == ["Nope"]
    assert config.get("ConnectorPhaseRotation") == "0.RST,1.RST"
    # It answers ReserveNow and CancelReservation, so it says so (Fusebox reserves only on
    # chargers whose SupportedFeatureProfiles list Reservation).
    assert "Reservation" in config.get("SupportedFeatureProfiles").split(",")


def test_local_list_versions() -> None:
    st = station()
    accepted = {"status": "Accepted"}
    entries = [{"id_tag": "A", "id_tag_info": accepted}, {"id_tag": "B", "id_tag_info": accepted}]
    assert st.update_local_list(1, "Full", entries) == "Accepted"
    assert st.known_locally("A")
    assert st.update_local_list(1, "Differential", [{"id_tag": "A"}]) == "VersionMismatch"
    assert st.update_local_list(2, "Differential", [{"id_tag": "A"}]) == "Accepted"
    assert not st.known_locally("A") and st.known_locally("B")
    assert st.local_list_version == 2
