"""The replay (planning.replay): cars through the engine in simulated time. Pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from planning.replay import ChargerSpec, FuseSpec, Site, Visit, grid_step_s, replay

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
END = START + timedelta(days=1)


def site(main_a: float = 63.0, chargers: int = 2, row_a: float | None = None) -> Site:
    fuses = [FuseSpec("main", None, main_a, "Main")]
    fuse = "main"
    if row_a is not None:
        fuses.append(FuseSpec("row", "main", row_a, "Row"))
        fuse = "row"
    return Site(
        fuses=tuple(fuses),
        chargers=tuple(
            ChargerSpec(f"cp-{n}", fuse, 3, "L1L2L3", 6.0, 32.0) for n in range(chargers)
        ),
    )


def visit(charger: str, hour: float, hours: float, need_kwh: float, **car: object) -> Visit:
    arrival = START + timedelta(hours=hour)
    return Visit(charger, arrival, arrival + timedelta(hours=hours), need_kwh * 1000, **car)  # type: ignore[arg-type]


def test_a_car_alone_gets_all_it_needs_at_its_own_rate() -> None:
    # 10 A on 3 phases at 230 V is 6.9 kW: 13.8 kWh take two hours of a four-hour stay.
    outcome = replay(
        site(), [visit("cp-0", 8, 4, 13.8, car_max_a=10.0, car_phases=3)], START, END, step_s=300
    )
    assert outcome.cars == 1
    assert abs(outcome.delivered_kwh - 13.8) < 1e-6
    assert outcome.not_delivered_kwh == 0
    assert outcome.cars_short == 0
    assert outcome.peak_main_a == [10.0, 10.0, 10.0]


def test_a_car_that_stays_too_short_for_its_need_leaves_below_it() -> None:
    # 16 A x 3 x 230 V = 11.04 kW for one hour: 11.04 of the 30 kWh it wanted.
    outcome = replay(
        site(), [visit("cp-0", 8, 1, 30, car_max_a=16.0, car_phases=3)], START, END, step_s=300
    )
    assert abs(outcome.delivered_kwh - 11.04) < 0.01
    assert abs(outcome.not_delivered_kwh - (30 - 11.04)) < 0.01
    assert outcome.cars_short == 1


def test_the_fuse_is_never_exceeded_and_a_bigger_one_delivers_more() -> None:
    visits = [visit(f"cp-{n}", 7 + n * 0.1, 6, 40) for n in range(6)]
    small = replay(site(main_a=40, chargers=6), visits, START, END, step_s=300)
    big = replay(site(main_a=200, chargers=6), visits, START, END, step_s=300)
    assert max(small.peak_main_a) <= 40
    assert small.hours_at_limit > 4
    assert big.not_delivered_kwh < small.not_delivered_kwh
    assert big.delivered_kwh > small.delivered_kwh
    assert big.hours_at_limit < small.hours_at_limit


def test_a_sub_circuit_limits_its_chargers_and_base_load_takes_room() -> None:
    visits = [visit(f"cp-{n}", 8, 2, 50) for n in range(2)]
    row = replay(site(main_a=100, row_a=20), visits, START, END, step_s=300)
    assert max(row.peak_main_a) <= 20 + 1e-9
    base = [(START, {"main": [90.0, 90.0, 90.0]})]
    loaded = replay(site(main_a=100), visits, START, END, base_load=base, step_s=300)
    # 10 A of room: one car at a time, at most 10 A; the peak includes the building.
    assert max(loaded.peak_main_a) <= 100 + 1e-9
    assert loaded.delivered_kwh < replay(site(main_a=100), visits, START, END).delivered_kwh


def test_one_phase_cars_draw_on_their_charger_first_phase() -> None:
    outcome = replay(
        site(), [visit("cp-0", 8, 4, 5, car_max_a=16.0, car_phases=1)], START, END, step_s=300
    )
    assert outcome.peak_main_a == [16.0, 0.0, 0.0]


def test_the_same_input_gives_the_same_outcome_and_solves_follow_the_grid() -> None:
    visits = [visit(f"cp-{n % 4}", 6 + n * 0.37, 3, 20) for n in range(12)]
    first = replay(site(main_a=50, chargers=4), visits, START, END, step_s=600)
    second = replay(site(main_a=50, chargers=4), visits, START, END, step_s=600)
    assert first.delivered_kwh == second.delivered_kwh
    assert first.day_profile_a == second.day_profile_a
    assert first.solves <= 24 * 6  # at most one per grid point


def test_the_grid_grows_with_the_work() -> None:
    assert grid_step_s(timedelta(days=28), 20) == 900
    assert grid_step_s(timedelta(days=7), 20) == 300
    assert grid_step_s(timedelta(days=30), 1000) == 1800


def test_cars_that_overlap_on_one_charger_each_charge() -> None:
    # A charger of two connectors: both cars are balanced, each within the charger's limits.
    visits = [
        visit("cp-0", 8, 4, 30, car_max_a=16.0, car_phases=3),
        visit("cp-0", 9, 4, 30, car_max_a=16.0, car_phases=3),
    ]
    outcome = replay(site(main_a=63), visits, START, END, step_s=300)
    assert outcome.delivered_kwh == pytest.approx(60.0)
    assert outcome.peak_main_a == [32.0, 32.0, 32.0]
