"""The car model: what a car draws, and that the energy adds up. Pure, no database."""

from __future__ import annotations

import random

import pytest

from ocpp_bridge.simulator.car import (
    CATALOGUE,
    IEC_MIN_CURRENT_A,
    RAMP_DOWN_A_PER_S,
    Car,
    CarModel,
    random_car,
)

HATCHBACK = CarModel("Hatchback 3x16A", 58_000, 3, 16, taper_soc=0.8)
ONE_PHASE = CarModel("Compact 1x32A", 40_000, 1, 32, taper_soc=0.75)
CAPPED = CarModel("Older compact 1x10A", 24_000, 1, 10)


def charge(
    car: Car, offered_a: float, seconds: float, phases: int = 3, step_s: float = 10
) -> float:
    """Charge in steps; return the metered energy."""
    energy = 0.0
    for _ in range(int(seconds / step_s)):
        energy += car.step(offered_a, phases, step_s).energy_wh
    return energy


def test_a_car_draws_its_cap_when_offered_more() -> None:
    car = Car(HATCHBACK, soc=0.3, target_soc=1.0)
    charge(car, offered_a=32, seconds=60)
    assert car.current_a == pytest.approx(16)


def test_a_car_follows_the_offered_current_within_a_few_seconds() -> None:
    car = Car(HATCHBACK, soc=0.3, target_soc=1.0, current_a=16)
    car.step(offered_a=8, charger_phases=3, dt_s=1)
    assert car.current_a == pytest.approx(8)  # down is fast
    car.step(offered_a=16, charger_phases=3, dt_s=1)
    assert 8 < car.current_a < 16  # up is a ramp
    car.step(offered_a=16, charger_phases=3, dt_s=3)
    assert car.current_a == pytest.approx(16)
    fast = Car(CarModel("3x32", 80_000, 3, 32), soc=0.3, target_soc=1.0, current_a=32)
    fast.step(offered_a=0, charger_phases=3, dt_s=32 / RAMP_DOWN_A_PER_S)
    assert fast.current_a == 0  # from 32 A to nothing in about two seconds


def test_below_the_minimum_the_car_pauses() -> None:
    car = Car(HATCHBACK, soc=0.3, target_soc=1.0, current_a=10)
    draw = car.step(offered_a=IEC_MIN_CURRENT_A - 0.1, charger_phases=3, dt_s=5)
    assert draw.current_a == 0
    assert car.target_current_a(0) == 0


def test_a_capped_car_draws_its_cap_not_the_limit() -> None:
    car = Car(CAPPED, soc=0.2, target_soc=1.0)
    charge(car, offered_a=32, seconds=30)
    assert car.current_a == pytest.approx(10)


def test_a_one_phase_car_on_a_three_phase_charger_uses_one_phase() -> None:
    car = Car(ONE_PHASE, soc=0.2, target_soc=1.0)
    draw = car.step(offered_a=16, charger_phases=3, dt_s=60)
    assert draw.phases == 1
    # About 16 A on one phase for a minute (after a 4 s ramp): ~3.6 kW for 1/60 h.
    assert draw.energy_wh == pytest.approx(16 * 230 * (60 - 2) / 3600, rel=0.01)


def test_the_draw_tapers_near_full_and_stops_at_the_target() -> None:
    car = Car(HATCHBACK, soc=0.79, target_soc=1.0)
    samples = []
    for _ in range(400):
        charge(car, offered_a=16, seconds=60)
        samples.append((car.soc, car.current_a))
        if car.finished:
            break
    assert car.finished
    assert car.soc == pytest.approx(1.0)
    assert car.current_a == 0
    assert car.step(offered_a=16, charger_phases=3, dt_s=60).energy_wh == 0
    at_90 = next(current for soc, current in samples if soc >= 0.9)
    assert at_90 < 9  # halfway through the taper: about half of 16 A
    currents = [current for _, current in samples]
    assert currents == sorted(currents, reverse=True)  # it only ever goes down


def test_a_car_stops_at_its_own_target_below_full() -> None:
    car = Car(HATCHBACK, soc=0.7, target_soc=0.75)
    charge(car, offered_a=16, seconds=3600)
    assert car.soc == pytest.approx(0.75)
    assert car.current_a == 0


def test_energy_is_conserved() -> None:
    car = Car(HATCHBACK, soc=0.5, target_soc=0.9)
    start = car.soc
    metered = 0.0
    rng = random.Random(7)
    for _ in range(3000):
        metered += car.step(rng.choice([0, 6, 10, 16, 32]), 3, rng.uniform(0.5, 30)).energy_wh
    gained_wh = (car.soc - start) * HATCHBACK.battery_wh
    assert metered * HATCHBACK.efficiency == pytest.approx(gained_wh, rel=1e-9)
    assert car.soc == pytest.approx(0.9)


def test_random_cars_are_plausible_and_reproducible() -> None:
    first = [random_car(random.Random(3)) for _ in range(1)]
    again = [random_car(random.Random(3)) for _ in range(1)]
    assert first == again
    rng = random.Random(1)
    cars = [random_car(rng, id_tag="TAG") for _ in range(500)]
    assert all(0.1 <= car.soc < car.target_soc <= 1.0 for car in cars)
    models = {car.model for car in cars}
    assert {m.phases for m in models} == {1, 2, 3}
    assert {m.max_current_a for m in models} >= {10, 16, 32}
    assert len(models) == len(CATALOGUE)
