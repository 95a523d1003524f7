"""Currents without a phase label (issue #11 item 1): an unlabelled Current.Import is the current
on each phase the car is on; where there is no Current.Import, Power.Active.Import / (voltage x
phases) and then Current.Offered stand in. Over a real websocket, read back from the live state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chargers.models import Charger
from commands.routing import live_states
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, eventually
from tests.ocpp.test_transactions import _meter_values, at, sample


def _live_currents(
    chargers: Chargers, bridge: BridgeHandle, charger: Charger, *samples: dict
) -> list[float | None]:
    station = chargers.connect(charger)
    station.result("MeterValues", _meter_values(1, None, at(0, datetime.now(UTC)), *samples))
    bridge.flush()
    eventually(lambda: live_states([charger.pk])[charger.pk].current_a != [None, None, None])
    return live_states([charger.pk])[charger.pk].current_a


def _with_phases(charger: Charger, phases: int, allocated: int | None = None) -> Charger:
    Charger.objects.filter(pk=charger.pk).update(phases=phases, allocated_phases=allocated)
    charger.refresh_from_db()
    return charger


class TestUnlabelledCurrent:
    def test_a_one_phase_car_draws_it_on_l1(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 1)
        current = _live_currents(chargers, bridge, charger, sample("32", "Current.Import"))
        assert current == [32.0, None, None]

    def test_a_three_phase_car_draws_it_on_each_phase(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 3)
        current = _live_currents(
            chargers, bridge, charger, sample("15.5", "Current.Import", unit="A")
        )
        assert current == [15.5, 15.5, 15.5]

    def test_a_three_phase_charger_switched_to_one_phase_counts_one(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 3, allocated=1)
        current = _live_currents(chargers, bridge, charger, sample("10", "Current.Import"))
        assert current == [10.0, None, None]

    def test_labelled_currents_win_over_the_unlabelled_one(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 3)
        current = _live_currents(
            chargers,
            bridge,
            charger,
            sample("30", "Current.Import"),
            sample("8", "Current.Import", phase="L1"),
            sample("9", "Current.Import", phase="L2"),
            sample("7", "Current.Import", phase="L3"),
        )
        assert current == [8.0, 9.0, 7.0]


class TestFallbacks:
    def test_power_over_the_installation_voltage_times_phases(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 3)
        assert charger.installation.voltage_v == 230
        current = _live_currents(
            chargers,
            bridge,
            charger,
            sample("11.04", "Power.Active.Import", unit="kW"),
            sample("32", "Current.Offered"),
        )
        assert current == pytest.approx([16.0, 16.0, 16.0])

    def test_power_over_the_voltage_the_charger_measured(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 1)
        current = _live_currents(
            chargers,
            bridge,
            charger,
            sample("2400", "Power.Active.Import", unit="W"),
            sample("240", "Voltage", phase="L1-N", unit="V"),
        )
        assert current == pytest.approx([10.0, None, None])

    def test_offered_current_when_nothing_else_is_sent(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 3)
        current = _live_currents(chargers, bridge, charger, sample("13", "Current.Offered"))
        assert current == [13.0, 13.0, 13.0]

    def test_offered_current_per_labelled_phase(
        self, world: World, chargers: Chargers, bridge: BridgeHandle
    ) -> None:
        charger = _with_phases(world.charger_a1, 3)
        current = _live_currents(
            chargers, bridge, charger, sample("12", "Current.Offered", phase="L2")
        )
        assert current == [None, 12.0, None]
