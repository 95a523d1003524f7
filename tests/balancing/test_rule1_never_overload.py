"""Rule 1: no fuse is ever overloaded on any phase, in the worst case the contract defines."""

from __future__ import annotations

from balancing.engine import solve
from tests.balancing.builders import (
    allocation,
    charger,
    fuse,
    scenario,
    solve_currents,
)
from tests.balancing.oracle import violations


def test_base_load_and_subtree_count_against_each_fuse() -> None:
    # row-a (32 A) splits between its two cars; the car on main gets what main has left on its
    # busiest phase: 63 - 12 (base load on L1) - 32 (row-a) = 19 A.
    snapshot = scenario(
        [charger("a1", fuse="row-a"), charger("a2", fuse="row-a"), charger("m1")],
        fuses=[
            fuse("main", 63, base_load=[12.0, 4.5, 7.0]),
            fuse("row-a", 32, parent="main"),
        ],
    )

    assert solve_currents(snapshot) == {"a1": 16.0, "a2": 16.0, "m1": 19.0}
    assert violations(snapshot, solve(snapshot)) == []


def test_one_phase_chargers_load_the_first_phase_of_their_rotation() -> None:
    wired_apart = scenario(
        [
            charger("l1", phases=1, rotation="L1"),
            charger("l2", phases=1, rotation="L2L3L1"),
            charger("l3", phases=1, rotation="L3"),
        ],
        main_limit=20,
    )
    wired_together = scenario(
        [charger(name, phases=1, rotation="L1") for name in ("a", "b")], main_limit=20
    )

    assert solve_currents(wired_apart) == {"l1": 20.0, "l2": 20.0, "l3": 20.0}
    assert solve_currents(wired_together) == {"a": 10.0, "b": 10.0}


def test_a_one_phase_car_on_a_three_phase_charger_loads_the_first_phase_of_the_rotation() -> None:
    # Only L2 is tight; the rotation decides whether the 1-phase car sits on it.
    limits = [32, 10, 32]
    on_l2 = scenario([charger("cp", rotation="L2L3L1", car_phases=1)], main_limit=limits)
    on_l1 = scenario([charger("cp", rotation="L1L2L3", car_phases=1)], main_limit=limits)

    assert solve_currents(on_l2) == {"cp": 10.0}
    assert solve_currents(on_l1) == {"cp": 32.0}


def test_a_car_of_unknown_phases_is_assumed_on_every_phase_of_its_charger() -> None:
    limits = [32, 32, 10]
    unknown = scenario([charger("cp", car_phases=None)], main_limit=limits)
    known_single = scenario([charger("cp", car_phases=1)], main_limit=limits)

    assert solve_currents(unknown) == {"cp": 10.0}
    assert solve_currents(known_single) == {"cp": 32.0}


def test_offline_charger_with_a_car_is_reserved_at_failsafe_on_its_phases() -> None:
    snapshot = scenario(
        [
            charger("offline", online=False, current_limit=16),
            charger("online"),
        ],
        main_limit=20,
        failsafe_current=6,
    )

    result = solve(snapshot)

    assert allocation(result, "online")["current"] == 14.0
    assert allocation(result, "offline") == {
        "id": "offline",
        "current": 6.0,
        "phases": 3,
        "change": "none",
    }
    assert "offline: 6 A failsafe reserved on L1, L2, L3" in " ".join(result["notes"])


def test_offline_charger_reserves_only_its_own_phases_and_nothing_without_a_car() -> None:
    snapshot = scenario(
        [
            charger("offline-l3", phases=1, rotation="L3", online=False),
            charger("offline-empty", online=False, car_connected=False),
            charger("l3", phases=1, rotation="L3"),
            charger("l1", phases=1, rotation="L1"),
        ],
        main_limit=20,
        failsafe_current=6,
    )

    currents = solve_currents(snapshot)

    assert currents["l3"] == 14.0
    assert currents["l1"] == 20.0
    assert currents["offline-empty"] == 0.0


def test_infeasible_fuse_gives_nothing_more_below_it_and_says_so() -> None:
    # row-b: 30 A base load plus a 6 A failsafe reservation on a 32 A fuse.
    snapshot = scenario(
        [
            charger("b-offline", fuse="row-b", online=False),
            charger("b1", fuse="row-b"),
            charger("a1", fuse="row-a"),
        ],
        fuses=[
            fuse("main", 100),
            fuse("row-a", 32, parent="main"),
            fuse("row-b", 32, parent="main", base_load=[30, 30, 30]),
        ],
    )

    result = solve(snapshot)

    assert allocation(result, "b1")["current"] == 0.0
    assert allocation(result, "a1")["current"] == 32.0
    assert "b1" in result["paused"]
    notes = " ".join(result["notes"])
    assert "row-b is overloaded before any car is served" in notes
    assert "nothing more is given on L1, L2, L3 under row-b" in notes


def test_infeasible_parent_blocks_every_car_below_it() -> None:
    snapshot = scenario(
        [charger("a1", fuse="row-a")],
        fuses=[fuse("main", [63, 10, 63], base_load=[0, 12, 0]), fuse("row-a", 32, parent="main")],
    )

    result = solve(snapshot)

    assert allocation(result, "a1")["current"] == 0.0
    assert any("a1 paused: main is overloaded" in note for note in result["notes"])


def test_imbalance_limit_holds_for_the_chargers_combined_draw() -> None:
    # Two 1-phase cars on L1: L1 may carry at most 16 A more than L2 and L3.
    cars = [charger(name, phases=1, rotation="L1") for name in ("a", "b")]
    limited = scenario(cars, max_phase_imbalance=16)
    unlimited = scenario(cars)

    assert solve_currents(limited) == {"a": 8.0, "b": 8.0}
    assert solve_currents(unlimited) == {"a": 31.5, "b": 31.5}
    assert violations(limited, solve(limited)) == []


def test_cars_on_other_phases_let_one_phase_cars_charge_more_under_an_imbalance_limit() -> None:
    # A car on L2 and one on L3 balance a car on L1: the three can all rise together.
    snapshot = scenario(
        [
            charger("l1", phases=1, rotation="L1"),
            charger("l2", phases=1, rotation="L2"),
            charger("l3", phases=1, rotation="L3", max_current=10),
        ],
        max_phase_imbalance=6,
    )

    # l3 stops at its 10 A maximum; l1 and l2 may then be at most 6 A above it.
    assert solve_currents(snapshot) == {"l1": 16.0, "l2": 16.0, "l3": 10.0}


def test_three_phase_cars_do_not_count_against_the_imbalance_limit() -> None:
    snapshot = scenario([charger("cp", car_phases=3)], max_phase_imbalance=0)

    assert solve_currents(snapshot) == {"cp": 32.0}
