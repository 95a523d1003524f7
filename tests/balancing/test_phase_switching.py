"""Chargers that can switch phases ("can_switch_phases": true) are told to use 1 phase when
that lets a car charge that 3 phases would not, and go back to 3 phases with some margin."""

from __future__ import annotations

from typing import Any

from balancing.engine import solve
from tests.balancing.builders import allocation, charger, scenario


def test_one_phase_when_three_phases_at_minimum_do_not_fit() -> None:
    snapshot = scenario([charger("cp", can_switch_phases=True)], main_limit=[16, 4, 4])

    result = solve(snapshot)

    assert allocation(result, "cp") == {"id": "cp", "current": 16.0, "phases": 1, "change": "raise"}
    assert any("cp told to charge on 1 phase" in note for note in result["notes"])


def test_three_phases_whenever_they_fit() -> None:
    snapshot = scenario([charger("cp", can_switch_phases=True)], main_limit=[16, 6, 6])

    assert allocation(solve(snapshot), "cp")["phases"] == 3


def test_a_charger_that_cannot_switch_waits_instead() -> None:
    snapshot = scenario([charger("cp", can_switch_phases=False)], main_limit=[16, 4, 4])

    result = solve(snapshot)

    assert allocation(result, "cp")["current"] == 0.0
    assert result["paused"] == ["cp"]


def test_switching_one_car_to_one_phase_lets_more_cars_charge() -> None:
    # 10 A per phase: on 3 phases "switchable" blocks the 1-phase cars on L2 and L3; on L1 it
    # leaves them room, so three cars charge instead of one.
    snapshot = scenario(
        [
            charger("switchable", can_switch_phases=True, energy_wh=0),
            charger("l2", phases=1, rotation="L2", energy_wh=5000),
            charger("l3", phases=1, rotation="L3", energy_wh=5000),
        ],
        main_limit=10,
    )

    result = solve(snapshot)

    assert result["paused"] == []
    assert allocation(result, "switchable")["phases"] == 1


def test_going_back_to_three_phases_needs_a_margin_above_the_minimum() -> None:
    # On 1 phase now; 3 phases at 6 A would fit on L2 and L3 (7 A), but not with the 2 A margin.
    def solved(limit_l2_l3: float) -> dict[str, Any]:
        snapshot = scenario(
            [
                charger(
                    "cp",
                    can_switch_phases=True,
                    active_phases=1,
                    current_limit=16,
                    measured=[15.8, 0, 0],
                )
            ],
            main_limit=[16, limit_l2_l3, limit_l2_l3],
        )
        return solve(snapshot)

    assert allocation(solved(7), "cp")["phases"] == 1
    assert "cp stays on 1 phase: 3 phases would fit, but not with the 2 A margin" in " ".join(
        solved(7)["notes"]
    )
    assert allocation(solved(8), "cp")["phases"] == 3


def test_switching_from_three_phases_to_one_is_a_lowering_change() -> None:
    snapshot = scenario(
        [charger("cp", can_switch_phases=True, current_limit=16, measured=[15.8] * 3)],
        main_limit=[16, 4, 4],
    )

    assert allocation(solve(snapshot), "cp")["change"] == "lower"
