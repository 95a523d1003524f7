"""Rule 1 when one phase of a fuse is already over its limit before any car (issue #11 item 6).

Base load or the failsafe reservation of offline chargers can put one phase of a fuse over its
limit. Then nothing more may be given on that phase under that fuse, so every car that may draw
on it is paused; the cars on the fuse's other phases are balanced on what their own phases
allow, as if nothing happened.
"""

from __future__ import annotations

from balancing.engine import solve
from tests.balancing.builders import allocation, charger, fuse, scenario, solve_currents
from tests.balancing.oracle import violations


def test_base_load_over_on_l2_pauses_only_the_cars_that_draw_on_l2() -> None:
    # L2 is 0.3 A over by base load alone.
    snapshot = scenario(
        [
            charger("l1", phases=1, rotation="L1"),
            charger("l3", phases=1, rotation="L3"),
            charger("known-l3", rotation="L3L1L2", car_phases=1),
            charger("l2", phases=1, rotation="L2"),
            charger("three", car_phases=None),
        ],
        fuses=[fuse("main", 32, base_load=[4, 32.3, 0])],
    )

    result = solve(snapshot)

    # L1: 32 - 4 for one car; L3: 32 shared by two; nothing at all on L2.
    assert solve_currents(snapshot) == {
        "l1": 28.0,
        "l3": 16.0,
        "known-l3": 16.0,
        "l2": 0.0,
        "three": 0.0,
    }
    assert sorted(result["paused"]) == ["l2", "three"]
    assert violations(snapshot, result) == []
    notes = result["notes"]
    assert any(
        note.startswith("main is overloaded before any car is served (L2: ")
        and "exceed the limit by 0.3 A" in note
        and "nothing more is given on L2 under main" in note
        for note in notes
    ), notes
    assert (
        "three paused: main is overloaded before any car is served on L2, a phase it may draw on"
        in notes
    )


def test_a_three_phase_car_measured_on_one_phase_keeps_charging_beside_an_overloaded_phase() -> (
    None
):
    # No car_phases given: the measurement shows the car on L1 only (its rotation's first phase).
    snapshot = scenario(
        [charger("cp", current_limit=16, measured=[15.8, 0.1, 0.0])],
        fuses=[fuse("main", 32, base_load=[0, 0, 40])],
    )

    assert solve_currents(snapshot) == {"cp": 32.0}


def test_a_charger_that_can_switch_charges_on_one_phase_away_from_the_overloaded_one() -> None:
    snapshot = scenario(
        [charger("switch", rotation="L1L2L3", can_switch_phases=True)],
        fuses=[fuse("main", 25, base_load=[0, 25.3, 0])],
    )

    result = solve(snapshot)

    assert allocation(result, "switch") == {
        "id": "switch",
        "current": 25.0,
        "phases": 1,
        "change": "raise",
    }
    assert violations(snapshot, result) == []


def test_a_limit_below_the_failsafe_reservation_on_one_phase_pauses_only_that_phase() -> None:
    # Two offline 1-phase chargers with cars reserve 2 x 6 A on L2 of a fuse allowing 10 A there.
    snapshot = scenario(
        [
            charger("off-a", fuse="row", phases=1, rotation="L2", online=False),
            charger("off-b", fuse="row", phases=1, rotation="L2L1L3", online=False),
            charger("l1", fuse="row", phases=1, rotation="L1"),
            charger("l2", fuse="row", phases=1, rotation="L2"),
            charger("l3", fuse="row", rotation="L3L2L1", car_phases=1),
            charger("three", fuse="row", car_phases=3),
        ],
        fuses=[fuse("main", 63), fuse("row", [20, 10, 20], parent="main")],
    )

    result = solve(snapshot)
    currents = solve_currents(snapshot)

    assert currents["l1"] == 20.0
    assert currents["l3"] == 20.0
    assert currents["l2"] == 0.0
    assert currents["three"] == 0.0
    # The offline chargers are listed with the failsafe current they apply by themselves.
    assert currents["off-a"] == currents["off-b"] == 6.0
    assert sorted(result["paused"]) == ["l2", "three"]
    assert any(
        note.startswith("row is overloaded before any car is served (L2: ")
        and "exceed the limit by 2 A" in note
        for note in result["notes"]
    ), result["notes"]
    assert violations(snapshot, result) == []


def test_an_overloaded_phase_of_a_sub_fuse_does_not_pause_cars_beside_it_on_the_parent() -> None:
    snapshot = scenario(
        [
            charger("under", fuse="row", phases=1, rotation="L2"),
            charger("beside", phases=1, rotation="L2"),
        ],
        fuses=[
            fuse("main", 40, base_load=[0, 20.5, 0]),
            fuse("row", 20, parent="main", base_load=[0, 20.5, 0]),
        ],
    )

    result = solve(snapshot)

    assert solve_currents(snapshot) == {"under": 0.0, "beside": 19.5}
    assert violations(snapshot, result) == []


def test_the_oracle_flags_a_car_drawing_on_an_overloaded_phase() -> None:
    # Guards the oracle itself: the check above would pass vacuously if it never complained.
    snapshot = scenario([charger("l2", phases=1, rotation="L2")], main_limit=[32, 10, 32])
    snapshot["fuses"][0]["base_load"] = [0, 11, 0]
    wrong = {
        "allocations": [{"id": "l2", "current": 6.0, "phases": 1, "change": "raise"}],
        "paused": [],
        "notes": [],
    }

    assert violations(snapshot, wrong) == ["l2 draws on L2 of overloaded main"]
    assert violations(snapshot, solve(snapshot)) == []
