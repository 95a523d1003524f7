"""A surplus car told to charge on one phase (``balancing.folding._fold_one_phase``) is counted on
one phase only once its charger is on one for sure; offline, or still drawing on three, it keeps
its 3-phase footprint, so the fuses never carry a draw the engine did not count (review of
2026-12-04: an offline charger's failsafe and a car still on three phases were under-counted)."""

from __future__ import annotations

from typing import Any

from balancing.engine import solve
from balancing.folding import fold_mode
from modes.choices import ChargeMode
from modes.inputs import ModeInput
from tests.balancing.builders import charger, currents, scenario

ONE_PHASE = ModeInput(ChargeMode.SURPLUS, 8.0, 0, "surplus: 1 phase", one_phase=True)


def _l2_car() -> dict[str, Any]:
    return charger("l2", phases=1, rotation="L2L3L1", max_current=32)


def test_an_offline_charger_keeps_its_three_phases_for_its_failsafe() -> None:
    sol = charger("sol", online=False, can_switch_phases=True, active_phases=1, current_limit=None)
    fold_mode(sol, ONE_PHASE)
    assert sol["phases"] == 3 and "switch_to_one_phase" not in sol
    got = currents(solve(scenario([sol, _l2_car()], main_limit=32, failsafe_current=10)))
    assert got["l2"] + 10 <= 32  # the failsafe profile is for all three phases


def test_a_car_still_drawing_on_three_phases_is_counted_on_three() -> None:
    sol = charger(
        "sol", can_switch_phases=True, active_phases=1, current_limit=16, measured=[16, 16, 16]
    )
    fold_mode(sol, ONE_PHASE)
    assert sol["phases"] == 3 and sol["switch_to_one_phase"]
    got = currents(solve(scenario([sol, _l2_car()], main_limit=32)))
    assert got["l2"] + got["sol"] <= 32


def test_a_charger_not_yet_told_to_switch_is_counted_on_three() -> None:
    sol = charger("sol", can_switch_phases=True, active_phases=3, measured=[0, 0, 0])
    fold_mode(sol, ONE_PHASE)
    assert sol["phases"] == 3 and sol["switch_to_one_phase"]


def test_a_charger_on_one_phase_for_sure_is_counted_on_one() -> None:
    sol = charger(
        "sol", can_switch_phases=True, active_phases=1, current_limit=8, measured=[8, 0, 0]
    )
    fold_mode(sol, ONE_PHASE)
    assert sol["phases"] == 1 and "switch_to_one_phase" not in sol
    got = currents(solve(scenario([sol, _l2_car()], main_limit=32)))
    assert got["l2"] == 32  # L2 is free of the surplus car: counted right, current not wasted


def test_without_a_measurement_a_switched_charger_stays_counted_on_three() -> None:
    sol = charger("sol", can_switch_phases=True, active_phases=1, measured=None, car_phases=None)
    fold_mode(sol, ONE_PHASE)
    assert sol["phases"] == 3 and sol["switch_to_one_phase"]
