"""A simulated day at an office car park, balanced by the engine and by a naive equal split.

The site: a 400 A main fuse carrying the building (its load follows an office day), four rows
of 15 chargers behind 100 A fuses; per row 12 three-phase 16 A chargers (2 of which can switch
to one phase) and 3 one-phase 32 A chargers, wired on rotating phases. Cars arrive in the
morning (and a few visitors around noon) with 5-40 kWh to charge; a fifth are 1-phase cars,
some are limited by their on-board charger to 10 A, and every battery tapers over its last
2 kWh and then stops. The car phases are never told to the engine: it reads them from the
measurements, which carry +-0.3 A of noise. Every `STEP_S` seconds a snapshot is built from
the cars' previous draws, solved, and the cars draw what the new limits and their batteries
allow.

Reported per algorithm: energy delivered against the ideal (what the cars would take with
unlimited fuses), energy left on the table (what cars that wanted more could have drawn within
the fuses' actual room at that step: the waste rule 4 forbids), overload events (a fuse phase
above its limit at any step: must be 0), the longest time a car that still wanted energy waited
at 0 A (over all cars, and over the cars that left without all they needed), Jain's fairness
index over each car's share of its ideal, and the number of limit
changes sent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from balancing.engine import solve
from bench.balancing.scenarios import iso

VOLTAGE_V = 230.0
STEP_S = 60
START = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
END = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
MAIN_LIMIT_A = 400.0
ROW_LIMIT_A = 100.0
ROWS = 4
BAYS_PER_ROW = 15
MIN_CURRENT_A = 6.0
TAPER_WH = 2000.0
NOISE_A = 0.3
PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}


@dataclass(frozen=True)
class Bay:
    """A charger of the car park."""

    id: str
    row: str
    phases: int
    rotation: str
    max_current_a: float
    can_switch_phases: bool

    def phase_indices(self) -> list[int]:
        return [PHASE_INDEX[self.rotation[at : at + 2]] for at in range(0, 6, 2)]


@dataclass
class Car:
    """A car's visit: when, where, how much it needs and what its on-board charger takes."""

    bay: str
    arrival: datetime
    departure: datetime
    need_wh: float
    phases: int
    max_current_a: float
    delivered_wh: float = 0.0
    ideal_wh: float = 0.0
    waited_s: float = 0.0
    longest_wait_s: float = 0.0

    def acceptance_a(self) -> float:
        """What the battery takes now: full rate, tapering over the last TAPER_WH."""
        remaining_wh = self.need_wh - self.delivered_wh
        if remaining_wh <= 0:
            return 0.0
        return self.max_current_a * min(1.0, max(0.25, remaining_wh / TAPER_WH))


def car_park() -> list[Bay]:
    """The 60 chargers."""
    bays = []
    cyclic = ("L1L2L3", "L2L3L1", "L3L1L2")
    for row in range(ROWS):
        for number in range(BAYS_PER_ROW):
            one_phase = number % 5 == 4
            bays.append(
                Bay(
                    id=f"r{row}-{number:02d}",
                    row=f"row-{row}",
                    phases=1 if one_phase else 3,
                    rotation=cyclic[(number + row) % 3],
                    max_current_a=32.0 if one_phase else 16.0,
                    can_switch_phases=not one_phase and number % 6 == 0,
                )
            )
    return bays


def visits(bays: list[Bay], seed: int) -> list[Car]:
    """Commuters in the morning on 90 % of the bays, and a few visitors around noon."""
    rng = random.Random(seed)
    cars = []
    for bay in bays:
        if rng.random() < 0.9:
            arrival = START + timedelta(minutes=rng.uniform(60, 210))
            departure = START + timedelta(hours=rng.uniform(10, 12.5))
            cars.append(_car(rng, bay.id, arrival, departure))
        if rng.random() < 0.1:
            arrival = START + timedelta(hours=rng.uniform(12.5, 13))
            cars.append(_car(rng, bay.id, arrival, arrival + timedelta(hours=rng.uniform(1, 3))))
    # A bay holds one car at a time: a visitor waits for the commuter of its bay to leave.
    cars.sort(key=lambda car: (car.bay, car.arrival))
    kept: list[Car] = []
    for car in cars:
        if kept and kept[-1].bay == car.bay and car.arrival < kept[-1].departure:
            continue
        kept.append(car)
    return kept


def _car(rng: random.Random, bay: str, arrival: datetime, departure: datetime) -> Car:
    kind = rng.random()
    if kind < 0.2:
        phases, max_current = 1, rng.choice((16.0, 32.0))
    elif kind < 0.35:
        phases, max_current = 3, 10.0
    else:
        phases, max_current = 3, 16.0
    return Car(bay, arrival, departure, rng.uniform(5000, 40000), phases, max_current)


def building_load_a(moment: datetime, rng: random.Random) -> list[float]:
    """The office building on the main fuse: night, morning ramp, lunch peak, evening."""
    hour = moment.hour + moment.minute / 60
    if hour < 7:
        level = 60.0
    elif hour < 9:
        level = 60.0 + (hour - 7) * 90
    elif 12 <= hour < 13.5:
        level = 290.0
    elif hour < 17:
        level = 240.0
    else:
        level = max(60.0, 240.0 - (hour - 17) * 90)
    return [round(level * share + rng.uniform(-3, 3), 1) for share in (1.1, 0.95, 0.95)]


Balancer = Callable[[dict[str, Any]], dict[str, Any]]


def engine_balancer(snapshot: dict[str, Any]) -> dict[str, Any]:
    return solve(snapshot)


def equal_split_balancer(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The naive baseline: every connected car counts on all three phases; each fuse's room is
    split equally among the cars below it; where that share is below the minimum, the cars that
    arrived last are paused until it is not. No measurement is read: finished or capped cars
    keep their share, and a paused car waits until an earlier one leaves."""
    fuses = {fuse["id"]: fuse for fuse in snapshot["fuses"]}

    def path(fuse_id: str | None) -> list[str]:
        ids = []
        while fuse_id is not None:
            ids.append(fuse_id)
            fuse_id = fuses[fuse_id]["parent"]
        return ids

    room = {
        fuse_id: min(fuse["limit"][p] - fuse.get("base_load", [0, 0, 0])[p] for p in range(3))
        for fuse_id, fuse in fuses.items()
    }
    active = sorted(
        (c for c in snapshot["chargers"] if c["car_connected"]),
        key=lambda c: (c["connected_since"], c["id"]),
    )
    while True:
        count = {fuse_id: 0 for fuse_id in fuses}
        for charger in active:
            for fuse_id in path(charger["fuse"]):
                count[fuse_id] += 1
        share = {
            c["id"]: min([c["max_current"]] + [room[f] / count[f] for f in path(c["fuse"])])
            for c in active
        }
        if all(share[c["id"]] >= c["min_current"] for c in active):
            break
        active.pop()  # the last to arrive waits
    limits = {c["id"]: int(share[c["id"]] * 10) / 10 for c in active}
    return {
        "allocations": [
            {"id": c["id"], "current": limits.get(c["id"], 0.0), "phases": c["phases"]}
            for c in snapshot["chargers"]
        ]
    }


@dataclass
class DayReport:
    """What one algorithm achieved over the simulated day."""

    name: str
    delivered_kwh: float
    ideal_kwh: float
    stranded_kwh: float
    fully_charged: int
    overload_events: int
    longest_wait_min: float
    longest_wait_unmet_min: float
    jain_index: float
    limit_changes: int
    solve_ms_max: float
    cars: int


def simulate(balancer: Balancer, name: str, *, seed: int = 1) -> DayReport:
    """Run the day with one balancer; the same seed gives the same cars, loads and noise."""
    bays = car_park()
    cars = visits(bays, seed)
    rng = random.Random(seed + 1)
    limit_a = {bay.id: 0.0 for bay in bays}
    mode = {bay.id: bay.phases for bay in bays}
    draw_a = {bay.id: [0.0, 0.0, 0.0] for bay in bays}
    # As the service does: the engine's "finished" list comes back as car_finished.
    finished: set[str] = set()
    overloads = 0
    changes = 0
    stranded_wh = 0.0
    slowest_s = 0.0
    moment = START
    while moment < END:
        present = {car.bay: car for car in cars if car.arrival <= moment < car.departure}
        base = building_load_a(moment, rng)
        finished &= present.keys()
        snapshot = _snapshot(moment, bays, present, base, limit_a, mode, draw_a, finished, rng)
        started = time.perf_counter()
        result = balancer(snapshot)
        slowest_s = max(slowest_s, time.perf_counter() - started)
        finished = set(result.get("finished", ()))
        for item in result["allocations"]:
            if item["current"] != limit_a[item["id"]] or item["phases"] != mode[item["id"]]:
                changes += 1
            limit_a[item["id"]] = item["current"]
            mode[item["id"]] = item["phases"]
        loads = {"main": list(base), **{f"row-{row}": [0.0] * 3 for row in range(ROWS)}}
        for bay in bays:
            car = present.get(bay.id)
            draw_a[bay.id] = _draw(bay, car, limit_a[bay.id], mode[bay.id])
            for phase, amps in enumerate(draw_a[bay.id]):
                loads["main"][phase] += amps
                loads[bay.row][phase] += amps
            if car is not None:
                _account(car, bay, draw_a[bay.id], limit_a[bay.id])
        for fuse_id, load in loads.items():
            limit = MAIN_LIMIT_A if fuse_id == "main" else ROW_LIMIT_A
            overloads += sum(1 for amps in load if amps > limit + 1e-9)
        stranded_wh += _stranded_wh(bays, present, draw_a, loads)
        moment += timedelta(seconds=STEP_S)
    shares = [car.delivered_wh / car.ideal_wh for car in cars if car.ideal_wh > 0]
    jain = sum(shares) ** 2 / (len(shares) * sum(share * share for share in shares))
    return DayReport(
        name=name,
        delivered_kwh=sum(car.delivered_wh for car in cars) / 1000,
        ideal_kwh=sum(car.ideal_wh for car in cars) / 1000,
        stranded_kwh=stranded_wh / 1000,
        fully_charged=sum(1 for car in cars if car.delivered_wh >= car.need_wh),
        overload_events=overloads,
        longest_wait_min=max(car.longest_wait_s for car in cars) / 60,
        longest_wait_unmet_min=max(
            (car.longest_wait_s for car in cars if car.delivered_wh < car.need_wh), default=0.0
        )
        / 60,
        jain_index=jain,
        limit_changes=changes,
        solve_ms_max=slowest_s * 1000,
        cars=len(cars),
    )


def _snapshot(
    moment: datetime,
    bays: list[Bay],
    present: dict[str, Car],
    base: list[float],
    limit_a: dict[str, float],
    mode: dict[str, int],
    draw_a: dict[str, list[float]],
    finished: set[str],
    rng: random.Random,
) -> dict[str, Any]:
    chargers = []
    for bay in bays:
        car = present.get(bay.id)
        measured = [
            round(max(0.0, amps + rng.uniform(-NOISE_A, NOISE_A)), 1) if amps else 0.0
            for amps in draw_a[bay.id]
        ]
        charger: dict[str, Any] = {
            "id": bay.id,
            "fuse": bay.row,
            "phases": bay.phases,
            "rotation": bay.rotation,
            "min_current": MIN_CURRENT_A,
            "max_current": bay.max_current_a,
            "online": True,
            "car_connected": car is not None,
            "car_phases": None,
            "measured": measured,
            "current_limit": limit_a[bay.id],
            "priority": 0,
            "connected_since": iso(car.arrival) if car else None,
            "energy_wh": round(car.delivered_wh) if car else 0,
            "can_switch_phases": bay.can_switch_phases,
            "car_finished": bay.id in finished,
        }
        if bay.can_switch_phases:
            charger["active_phases"] = mode[bay.id]
        chargers.append(charger)
    return {
        "now": iso(moment),
        "installation": {
            "id": "office",
            "voltage": VOLTAGE_V,
            "max_phase_imbalance": None,
            "failsafe_current": 6,
        },
        "fuses": [
            {"id": "main", "parent": None, "limit": [MAIN_LIMIT_A] * 3, "base_load": base},
            *(
                {"id": f"row-{row}", "parent": "main", "limit": [ROW_LIMIT_A] * 3}
                for row in range(ROWS)
            ),
        ],
        "chargers": chargers,
    }


def _draw(bay: Bay, car: Car | None, limit_a: float, mode: int) -> list[float]:
    """Per-phase current the car actually draws under its charger's limit this step."""
    draw = [0.0, 0.0, 0.0]
    if car is None or limit_a < MIN_CURRENT_A:
        return draw
    amps = min(limit_a, car.acceptance_a(), bay.max_current_a)
    used = 1 if bay.phases == 1 or mode == 1 or car.phases == 1 else 3
    for phase in bay.phase_indices()[:used]:
        draw[phase] = amps
    return draw


def _account(car: Car, bay: Bay, draw: list[float], limit_a: float) -> None:
    """Energy, the unconstrained ideal, and waiting time of one car over one step."""
    hours = STEP_S / 3600
    car.delivered_wh = min(car.need_wh, car.delivered_wh + sum(draw) * VOLTAGE_V * hours)
    used = 1 if bay.phases == 1 or car.phases == 1 else 3
    unconstrained_a = min(car.max_current_a, bay.max_current_a)
    car.ideal_wh = min(car.need_wh, car.ideal_wh + unconstrained_a * used * VOLTAGE_V * hours)
    wants = car.delivered_wh < car.need_wh
    if limit_a == 0 and wants:
        car.waited_s += STEP_S
        car.longest_wait_s = max(car.longest_wait_s, car.waited_s)
    else:
        car.waited_s = 0.0


def _stranded_wh(
    bays: list[Bay],
    present: dict[str, Car],
    draw_a: dict[str, list[float]],
    loads: dict[str, list[float]],
) -> float:
    """Energy cars wanting more could have drawn this step within the room the fuses had left,
    handed out greedily so that room shared by several cars is counted once."""
    room = {
        fuse_id: [(MAIN_LIMIT_A if fuse_id == "main" else ROW_LIMIT_A) - amps for amps in load]
        for fuse_id, load in loads.items()
    }
    stranded_wh = 0.0
    for bay in bays:
        car = present.get(bay.id)
        if car is None or car.delivered_wh >= car.need_wh:
            continue
        used = 1 if bay.phases == 1 or car.phases == 1 else 3
        phases = bay.phase_indices()[:used]
        got_a = max(draw_a[bay.id])
        want_a = min(car.acceptance_a(), bay.max_current_a)
        free_a = min(room[fuse_id][phase] for fuse_id in ("main", bay.row) for phase in phases)
        extra_a = max(0.0, min(want_a - got_a, free_a))
        if got_a == 0 and extra_a < MIN_CURRENT_A:
            continue  # a paused car cannot take less than its minimum
        for fuse_id in ("main", bay.row):
            for phase in phases:
                room[fuse_id][phase] -= extra_a
        stranded_wh += extra_a * used * VOLTAGE_V * STEP_S / 3600
    return stranded_wh
