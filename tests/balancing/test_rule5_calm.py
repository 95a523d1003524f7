"""Rule 5: small measurement changes do not move limits, and lowering changes come first."""

from __future__ import annotations

from typing import Any

from balancing.engine import solve
from tests.balancing.builders import allocation, charger, charging_at, fuse, scenario


def _two_cars_at_16(base_load_a: float) -> dict[str, Any]:
    return scenario(
        [charger("a", **charging_at(16)), charger("b", **charging_at(16))],
        fuses=[fuse("main", 32, base_load=[base_load_a] * 3)],
    )


def test_a_slightly_higher_target_does_not_move_the_limit() -> None:
    # The fuse now has 0.6 A more: each car could get 16.3 A, a change below 1 A.
    snapshot = scenario(
        [charger("a", **charging_at(16)), charger("b", **charging_at(16))], main_limit=32.6
    )

    result = solve(snapshot)

    assert allocation(result, "a") == {"id": "a", "current": 16.0, "phases": 3, "change": "none"}
    assert allocation(result, "b")["current"] == 16.0


def test_a_larger_change_is_sent() -> None:
    roomy = scenario(
        [charger("a", **charging_at(16)), charger("b", **charging_at(16))], main_limit=36
    )

    assert [item["current"] for item in solve(roomy)["allocations"]] == [18.0, 18.0]


def test_a_small_decrease_needed_for_safety_is_always_sent() -> None:
    # 0.6 A more base load on a full fuse: keeping 16 A would overload it by 0.6 A.
    result = solve(_two_cars_at_16(base_load_a=0.6))

    assert [item["current"] for item in result["allocations"]] == [15.7, 15.7]
    assert [item["change"] for item in result["allocations"]] == ["lower", "lower"]


def test_draw_jitter_of_a_held_car_does_not_move_its_limit() -> None:
    # Held at 12.0 A for a 10.0 A draw; now it draws 10.3 A: the new target 12.3 A is too close.
    snapshot = scenario(
        [
            charger("held", current_limit=12, measured=[10.3, 10.3, 10.3], car_phases=3),
            charger("other", **charging_at(20)),
        ],
        main_limit=32,
    )

    result = solve(snapshot)

    assert allocation(result, "held")["current"] == 12.0
    assert allocation(result, "other")["current"] == 20.0


def test_lowering_changes_come_before_raising_ones() -> None:
    # "b" was paused and now gets a turn; "a" goes down to make room: "a" must be applied first.
    snapshot = scenario(
        [
            charger("a", **charging_at(20, energy_wh=20_000)),
            charger("b", energy_wh=0),
            charger("c", **charging_at(12, energy_wh=10_000)),
        ],
        main_limit=32,
    )

    result = solve(snapshot)

    changes = [(item["id"], item["change"]) for item in result["allocations"]]
    assert changes == [("a", "lower"), ("c", "lower"), ("b", "raise")]


def test_pausing_is_a_lowering_and_unchanged_chargers_come_last() -> None:
    snapshot = scenario(
        [
            charger("gone", car_connected=False, current_limit=16),
            charger("idle", car_connected=False, current_limit=0),
            charger("steady", **charging_at(16)),
            charger("new", energy_wh=0),
        ],
        main_limit=32,
    )

    result = solve(snapshot)

    assert [(item["id"], item["change"]) for item in result["allocations"]] == [
        ("gone", "lower"),
        ("new", "raise"),
        ("idle", "none"),
        ("steady", "none"),
    ]
