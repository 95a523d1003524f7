"""Surplus mode (modes.surplus): start after N minutes of enough surplus, stop after M minutes
short, one phase at low surplus, the rest shared fairly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modes.surplus import CarState, SurplusCar, decide

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RULES = {
    "start_after": timedelta(minutes=5),
    "stop_after": timedelta(minutes=10),
    "one_phase": True,
}


def _car(car_id: int, state: CarState, *, can_switch: bool = False, arrived: int = 0) -> SurplusCar:
    return SurplusCar(
        id=car_id, phases=(0, 1, 2), min_current_a=6.0, max_current_a=16.0,
        can_switch=can_switch, priority=0, arrived_at=T0 + timedelta(seconds=arrived), state=state,
    )  # fmt: skip


def _run(minutes: list[float], surplus: list[list[float]], **kwargs) -> list[float]:  # type: ignore[no-untyped-def]
    """The caps of one car over a timeline of (minute, surplus) steps."""
    state, caps = CarState(), []
    for minute, reading in zip(minutes, surplus, strict=True):
        decision = decide(
            [_car(1, state, **kwargs)], reading, T0 + timedelta(minutes=minute), **RULES
        )[1]
        state = decision.state
        caps.append(decision.cap_a)
    return caps


def test_a_car_starts_only_after_the_surplus_held_for_n_minutes() -> None:
    enough, short = [7.0] * 3, [3.0] * 3
    caps = _run([0, 2, 3, 4, 9, 10], [enough, enough, short, enough, enough, enough])
    # the dip at minute 3 restarts the count: 4 + 5 = 9
    assert caps == [0, 0, 0, 0, 7.0, 7.0]


def test_a_car_stops_only_after_m_minutes_short_and_keeps_its_minimum_meanwhile() -> None:
    enough, short = [10.0] * 3, [2.0] * 3
    caps = _run(
        [0, 5, 6, 10, 12, 13, 23],
        [enough, enough, short, short, enough, short, short],
    )
    assert caps == [0, 10.0, 6.0, 6.0, 10.0, 6.0, 0.0]


def test_one_phase_at_low_surplus_on_a_charger_that_can_switch() -> None:
    state = CarState(active=True)
    decision = decide([_car(1, state, can_switch=True)], [7.0, 2.0, 2.0], T0, **RULES)[1]
    assert decision.one_phase and decision.cap_a == 7.0
    # back to three phases only with a margin of 2 A on each
    up = decide([_car(1, decision.state, can_switch=True)], [7.0, 7.0, 7.0], T0, **RULES)[1]
    assert up.one_phase
    up = decide([_car(1, decision.state, can_switch=True)], [8.5, 8.5, 8.5], T0, **RULES)[1]
    assert not up.one_phase and up.cap_a == 8.5
    fixed = decide([_car(1, state)], [7.0, 2.0, 2.0], T0, **RULES)[1]
    assert not fixed.one_phase and fixed.cap_a == 6.0  # cannot switch: short, keeps its minimum


def test_charging_cars_share_the_surplus_and_a_waiting_car_holds_its_place() -> None:
    on = CarState(active=True)
    decisions = decide([_car(1, on), _car(2, on, arrived=1)], [20.0] * 3, T0, **RULES)
    assert decisions[1].cap_a == decisions[2].cap_a == 10.0
    # a third car fits its minimum (20 - 12 = 8 >= 6): it counts its N minutes, and the two
    # charging cars share only what the three minimums leave
    decisions = decide(
        [_car(1, on), _car(2, on, arrived=1), _car(3, CarState(), arrived=2)],
        [20.0] * 3,
        T0,
        **RULES,
    )
    assert decisions[3].cap_a == 0 and decisions[3].state.enough_since == T0
    assert decisions[1].cap_a == decisions[2].cap_a == 7.0
    # a fourth waiting car does not fit: it does not count
    decisions = decide(
        [_car(1, on), _car(2, on), _car(3, CarState()), _car(4, CarState())],
        [20.0] * 3,
        T0,
        **RULES,
    )
    assert decisions[4].state.enough_since is None
