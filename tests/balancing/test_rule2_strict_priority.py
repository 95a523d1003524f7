"""Rules 2 and 3 with several priority levels (issue #11 item 7).

Priority is strict: the count of cars served is maximised level by level, highest first, so the
choice among equally many higher-priority cars must leave room for as many lower-priority cars
as possible. And the current is shared max-min fairly level by level, where the lower levels
may move while a higher one is filled: under a phase-imbalance limit a lower-priority car on
another phase makes room for a higher-priority one, and must not take that room for a
lower-priority car beside it.
"""

from __future__ import annotations

from balancing.engine import solve
from tests.balancing.builders import charger, scenario, solve_currents
from tests.balancing.oracle import violations


def test_the_choice_among_equal_higher_priority_cars_leaves_room_for_lower_ones() -> None:
    # Only one of the two priority cars fits (6 A on L1). The 3-phase one is ranked first (less
    # energy), but it would fill L2 and L3 too; the 1-phase one leaves them to two more cars.
    snapshot = scenario(
        [
            charger("x-three", car_phases=3, priority=1, energy_wh=0),
            charger("y-l1", phases=1, rotation="L1", priority=1, energy_wh=5000),
            charger("low-l2", phases=1, rotation="L2"),
            charger("low-l3", phases=1, rotation="L3"),
        ],
        main_limit=6,
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {
        "x-three": 0.0,
        "y-l1": 6.0,
        "low-l2": 6.0,
        "low-l3": 6.0,
    }
    assert result["paused"] == ["x-three"]
    assert violations(snapshot, result) == []


def test_a_lower_priority_car_never_charges_in_the_place_of_a_higher_priority_one() -> None:
    # One 6 A slot on L1: the priority car gets it, whatever the energy and arrival say.
    snapshot = scenario(
        [
            charger(
                "low", phases=1, rotation="L1", energy_wh=0, connected_since="2026-11-24T06:00:00Z"
            ),
            charger("high", phases=1, rotation="L1", priority=2, energy_wh=40000),
            charger("mid", phases=1, rotation="L2", priority=1),
        ],
        main_limit=[10, 6, 6],
    )

    assert solve_currents(snapshot) == {"low": 0.0, "high": 10.0, "mid": 6.0}


def test_under_an_imbalance_limit_lower_priority_cars_balance_the_phases_for_a_higher_one() -> None:
    # L1 may carry at most 6 A more than L2 and L3. The priority car on L1 can have 14 A (20 A
    # fuse, the other car on L1 at its 6 A minimum) if the cars on L2 and L3 rise with it; the
    # lower-priority car beside it on L1 must not take that room.
    snapshot = scenario(
        [
            charger("high", phases=1, rotation="L1", priority=1),
            charger("low-l1", phases=1, rotation="L1"),
            charger("low-l2", phases=1, rotation="L2"),
            charger("low-l3", phases=1, rotation="L3"),
        ],
        main_limit=20,
        max_phase_imbalance=6,
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {
        "high": 14.0,
        "low-l1": 6.0,
        "low-l2": 20.0,
        "low-l3": 20.0,
    }
    assert violations(snapshot, result) == []


def test_under_an_imbalance_limit_a_three_phase_car_does_not_take_what_others_wait_for() -> None:
    # At their minimums L3 is already 12 A above L1 (the limit), so the cars on L3 can rise only
    # as far as the car on L1 does; the 3-phase car, outside the limit, must stop at the same
    # level as the 2-phase cars sharing L2 with it instead of filling L2 while they wait.
    snapshot = scenario(
        [
            charger("two-a", rotation="L2L3L1", car_phases=2),
            charger("two-b", rotation="L3L2L1", car_phases=2),
            charger("three", car_phases=3),
            charger("one-l1", phases=1, rotation="L1", min_current=6, max_current=16),
            charger("one-l3", phases=1, rotation="L3"),
        ],
        main_limit=[50, 24, 50],
        max_phase_imbalance=12,
    )

    currents = solve_currents(snapshot)

    # L2: 24 A for three cars; L3 - L1 = (8 + 8 + one-l3) - 16 <= 12 once one-l1 is at 16 A.
    assert currents == {"two-a": 8.0, "two-b": 8.0, "three": 8.0, "one-l1": 16.0, "one-l3": 12.0}
    assert violations(snapshot, solve(snapshot)) == []
