"""Arrival profiles for a site without history: office, housing cooperative, fleet depot.

Each preset says when cars come and go (normal distributions around a local time, per weekday
and weekend), how likely a charger is used on a day, how much energy a visit wants and which cars
come (phases and their own current limit). ``visits`` draws them for a set of chargers over a
period, deterministically for a seed. Pure.

A drawn need never exceeds what the car could take at its own rate in its stay (less a tenth): a
car left short then says the site was too small, never that the car was too slow.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from planning.replay import ChargerSpec, Visit


class PresetName(StrEnum):
    OFFICE = "office"
    HOUSING = "housing"
    DEPOT = "depot"


@dataclass(frozen=True)
class CarKind:
    share: float
    phases: int
    max_current_a: float


@dataclass(frozen=True)
class Preset:
    """How one kind of site is used."""

    name: PresetName
    label: str
    arrival_hour: float  # mean local arrival time
    arrival_spread_h: float  # standard deviation
    stay_h: float  # mean stay
    stay_spread_h: float
    use_weekday: float  # chance a charger gets a car on a weekday
    use_weekend: float
    energy_kwh: tuple[float, float]  # uniform range of the energy a visit wants
    cars: tuple[CarKind, ...]


COMMUTER_CARS = (
    CarKind(0.2, 1, 16.0),
    CarKind(0.15, 3, 10.0),
    CarKind(0.65, 3, 16.0),
)

PRESETS: dict[PresetName, Preset] = {
    PresetName.OFFICE: Preset(
        PresetName.OFFICE,
        "Office: commuters 7-10, leaving after a working day",
        arrival_hour=8.3,
        arrival_spread_h=0.8,
        stay_h=8.5,
        stay_spread_h=1.0,
        use_weekday=0.9,
        use_weekend=0.05,
        energy_kwh=(5.0, 25.0),
        cars=COMMUTER_CARS,
    ),
    PresetName.HOUSING: Preset(
        PresetName.HOUSING,
        "Housing cooperative: home in the evening, away in the morning",
        arrival_hour=17.5,
        arrival_spread_h=1.5,
        stay_h=14.0,
        stay_spread_h=1.5,
        use_weekday=0.6,
        use_weekend=0.5,
        energy_kwh=(5.0, 30.0),
        cars=COMMUTER_CARS,
    ),
    PresetName.DEPOT: Preset(
        PresetName.DEPOT,
        "Fleet depot: vans back at 17-19, out again at 6-7",
        arrival_hour=18.0,
        arrival_spread_h=0.8,
        stay_h=12.5,
        stay_spread_h=0.7,
        use_weekday=0.95,
        use_weekend=0.3,
        energy_kwh=(20.0, 60.0),
        cars=(CarKind(0.7, 3, 16.0), CarKind(0.2, 3, 32.0), CarKind(0.1, 1, 16.0)),
    ),
}

MIN_STAY_H = 0.5


def visits(
    preset: Preset,
    chargers: Sequence[ChargerSpec],
    first_day: date,
    days: int,
    zone: tzinfo,
    *,
    seed: int,
    voltage_v: float = 230.0,
) -> list[Visit]:
    """Cars for every charger over ``days`` days from ``first_day`` (local), one at a time per
    charger; the same seed gives the same visits."""
    rng = random.Random(seed)
    found: list[Visit] = []
    for charger in chargers:
        free_from: datetime | None = None
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            chance = preset.use_weekend if day.weekday() >= 5 else preset.use_weekday
            if rng.random() >= chance:
                continue
            midnight = datetime.combine(day, time(0), zone)
            arrival = midnight + timedelta(
                hours=min(23.9, max(0.0, rng.gauss(preset.arrival_hour, preset.arrival_spread_h)))
            )
            stay_h = max(MIN_STAY_H, rng.gauss(preset.stay_h, preset.stay_spread_h))
            kind = _car(preset, rng)
            phases = min(kind.phases, charger.phases)
            rate_a = min(kind.max_current_a, charger.max_current_a)
            most_wh = rate_a * phases * voltage_v * stay_h * 0.9
            need_wh = min(most_wh, rng.uniform(*preset.energy_kwh) * 1000)
            if free_from is not None and arrival < free_from:
                continue
            departure = arrival + timedelta(hours=stay_h)
            free_from = departure
            found.append(
                Visit(charger.id, arrival, departure, round(need_wh), kind.max_current_a, phases)
            )
    return found


def _car(preset: Preset, rng: random.Random) -> CarKind:
    pick = rng.random()
    for kind in preset.cars:
        if pick < kind.share:
            return kind
        pick -= kind.share
    return preset.cars[-1]
