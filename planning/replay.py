"""Replay visits (cars arriving, charging, leaving) through the balancing engine in simulated time.

Pure: a site, its visits and a base-load timeline in, an ``Outcome`` out; no Django, no clock.
Both the what-if of an installation (visits from its history) and the new-site planner (visits
from a preset) run here.

Time moves on a grid of ``step_s`` seconds. Arrivals and departures are rounded to the nearest
grid point (a visit lasts at least one step). Allocations are constant between solves: the
engine is asked again at a grid point where a car arrived, left or got all it needed, where the
base load changed, one step after any such change (the engine then sees what each car really
draws and hands what a car does not take to others, as the live loop does), and every
``RESOLVE_WAITING_S`` while a car waits at 0 A (rotation). Between solves each car draws
``min(allocation, its own maximum, the charger's maximum)`` on its phases until it has its
energy, then stops; a full car leaves the snapshot (the live loop learns that within a few
solves). So the number of solves is bounded by the grid, never by the number of cars.

Visits that overlap on one charger (a charger of two connectors) each get a place: the second
car is balanced as a charger of its own with the same limits on the same fuse (the engine knows
chargers, not connectors), so such a charger may draw up to its maximum per car.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from balancing.engine import solve

PHASE_INDEX = {"L1": 0, "L2": 1, "L3": 2}
RESOLVE_WAITING_S = 15 * 60
# A fuse phase within this much of its limit counts as "at the limit" (the engine leaves at most
# a step of 0.1 A per car unused, and measurements of a live site move by about as much).
AT_LIMIT_MARGIN_A = 1.0
# A car that left with less than this share of its need counts as "left below its need" (a
# rounding of a few Wh is not a car left short).
SHORT_SHARE = 0.98
PROFILE_SLOT_S = 15 * 60


@dataclass(frozen=True)
class FuseSpec:
    """A fuse of the simulated site; ``parent`` None for the main fuse."""

    id: str
    parent: str | None
    limit_a: float
    name: str = ""


@dataclass(frozen=True)
class ChargerSpec:
    """A charger of the simulated site."""

    id: str
    fuse: str
    phases: int = 3
    rotation: str = "L1L2L3"
    min_current_a: float = 6.0
    max_current_a: float = 32.0
    priority: int = 0
    can_switch_phases: bool = False
    connectors: int = 1  # for the failsafe check: each falls back to the failsafe current

    def phase_indexes(self) -> list[int]:
        return [PHASE_INDEX[self.rotation[at : at + 2]] for at in range(0, 6, 2)]


@dataclass(frozen=True)
class Site:
    """What the engine balances: fuses (the main fuse first or anywhere), chargers and settings."""

    fuses: tuple[FuseSpec, ...]
    chargers: tuple[ChargerSpec, ...]
    voltage_v: float = 230.0
    failsafe_current_a: float = 6.0
    max_phase_imbalance_a: float | None = None
    phases: int = 3  # a 1-phase installation holds 1-phase chargers only

    @property
    def main_fuse(self) -> FuseSpec:
        return next(fuse for fuse in self.fuses if fuse.parent is None)


@dataclass(frozen=True)
class Visit:
    """A car at a charger: when it came and left, the energy it wanted (Wh), and what it takes:
    its own current limit and phases (None: unknown, the charger's)."""

    charger: str
    arrival: datetime
    departure: datetime
    need_wh: float
    car_max_a: float | None = None
    car_phases: int | None = None


# Base load that is not ours, per fuse id and phase, from a moment on (until the next entry).
BaseLoad = Sequence[tuple[datetime, dict[str, list[float]]]]


@dataclass
class Outcome:
    """What the site achieved over the period."""

    start: datetime
    end: datetime
    step_s: int
    solves: int
    cars: int
    needed_kwh: float
    delivered_kwh: float
    not_delivered_kwh: float
    cars_short: int
    hours_at_limit: float
    peak_main_a: list[float]
    # Average load of the main fuse's most loaded phase (base load included) per slot of a day,
    # in seconds since local midnight.
    day_profile_a: list[tuple[int, float]] = field(default_factory=list)
    solve_seconds: float = 0.0
    # Per visit, in the order given: the energy it got (Wh) and the largest current it drew (A).
    delivered_wh: list[float] = field(default_factory=list)
    peak_draw_a: list[float] = field(default_factory=list)


@dataclass
class _Car:
    visit: Visit
    index: int
    arrive_at: datetime
    leave_at: datetime
    slot: str = ""
    delivered_wh: float = 0.0
    peak_draw_a: float = 0.0
    allocation_a: float = 0.0
    allocation_phases: int = 3
    draw_a: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    @property
    def wants(self) -> bool:
        return self.delivered_wh < self.visit.need_wh - 1e-6


def grid_step_s(span: timedelta, chargers: int) -> int:
    """The grid: 5 minutes for a small site over a few weeks, coarser as the work grows (about
    ``span / step`` solves of up to ``chargers`` cars), in whole 5-minute steps, at most 1 hour."""
    minutes = span.total_seconds() / 60
    budget = 4000 if chargers <= 100 else 1600
    step_min = max(5, -(-minutes / budget // 5) * 5)
    return int(min(60, step_min) * 60)


def _round_to_grid(moment: datetime, start: datetime, step_s: int) -> datetime:
    steps = round((moment - start).total_seconds() / step_s)
    return start + timedelta(seconds=steps * step_s)


def replay(
    site: Site,
    visits: Sequence[Visit],
    start: datetime,
    end: datetime,
    *,
    base_load: BaseLoad = (),
    step_s: int | None = None,
    zone: tzinfo = UTC,
) -> Outcome:
    """Run ``visits`` through the engine on ``site`` from ``start`` to ``end``; the day profile
    is by the wall clock of ``zone``."""
    step_s = step_s or grid_step_s(end - start, len(site.chargers))
    step = timedelta(seconds=step_s)
    chargers = {charger.id: charger for charger in site.chargers}
    fuses = {fuse.id: fuse for fuse in site.fuses}
    paths = {charger.id: _path(charger.fuse, fuses) for charger in site.chargers}
    cars = []
    order = sorted(range(len(visits)), key=lambda at: (visits[at].arrival, visits[at].charger))
    for index in order:
        visit = visits[index]
        arrive = max(start, _round_to_grid(visit.arrival, start, step_s))
        leave = min(end, max(arrive + step, _round_to_grid(visit.departure, start, step_s)))
        if visit.charger in chargers and arrive < end:
            cars.append(_Car(visit, index, arrive, leave))
    arrivals: dict[datetime, list[_Car]] = {}
    for car in cars:
        arrivals.setdefault(car.arrive_at, []).append(car)
    base_entries = sorted(base_load, key=lambda entry: entry[0])
    base_at = 0
    base: dict[str, list[float]] = {}
    present: dict[str, _Car] = {}  # slot (charger id, "#2" for a second car) -> the car on it
    slots = 86400 // PROFILE_SLOT_S
    profile_sum = [0.0] * slots
    profile_seconds = [0.0] * slots
    peak = [0.0, 0.0, 0.0]
    at_limit_s = 0.0
    solves = 0
    solve_seconds = 0.0
    changed_before = False
    last_solve: datetime | None = None
    moment = start
    while moment < end:
        changed = False
        for slot in [slot for slot, car in present.items() if car.leave_at <= moment]:
            del present[slot]
            changed = True
        for car in arrivals.get(moment, ()):
            car.slot = _free_slot(present, car.visit.charger)
            present[car.slot] = car
            changed = True
        while base_at < len(base_entries) and base_entries[base_at][0] <= moment:
            new_base = base_entries[base_at][1]
            if new_base != base:
                base = new_base
                changed = True
            base_at += 1
        wanting = [car for car in present.values() if car.wants]
        waiting = any(car.allocation_a == 0 for car in wanting)
        due = (
            changed
            or changed_before
            or (
                waiting
                and last_solve is not None
                and (moment - last_solve).total_seconds() >= RESOLVE_WAITING_S
            )
        )
        if due and wanting:
            snapshot = _snapshot(site, chargers, wanting, base, moment)
            began = time.perf_counter()
            result = solve(snapshot)
            solve_seconds += time.perf_counter() - began
            solves += 1
            last_solve = moment
            for item in result["allocations"]:
                car = present[item["id"]]
                car.allocation_a = float(item["current"])
                car.allocation_phases = int(item.get("phases") or 3)
        changed_before = changed
        # Draw until the next grid point; a car that gets all it needs stops (and the next
        # grid point re-solves: a car that finished is a change).
        loads = {fuse_id: list(base.get(fuse_id, (0.0, 0.0, 0.0))) for fuse_id in fuses}
        finished_any = False
        for car in present.values():
            charger = chargers[car.visit.charger]
            car.draw_a = [0.0, 0.0, 0.0]
            if not car.wants or car.allocation_a < charger.min_current_a - 1e-9:
                continue
            amps = min(car.allocation_a, charger.max_current_a, car.visit.car_max_a or 1e9)
            used = _phases_used(charger, car)
            power_w = amps * len(used) * site.voltage_v
            remaining_wh = car.visit.need_wh - car.delivered_wh
            seconds = min(step_s, remaining_wh / power_w * 3600) if power_w > 0 else 0.0
            car.delivered_wh = min(car.visit.need_wh, car.delivered_wh + power_w * step_s / 3600)
            share = seconds / step_s
            car.peak_draw_a = max(car.peak_draw_a, amps)
            for phase in used:
                car.draw_a[phase] = amps
                for fuse_id in paths[charger.id]:
                    loads[fuse_id][phase] += amps * share
            if not car.wants:
                finished_any = True
        main = loads[site.main_fuse.id]
        peak = [max(p, amps) for p, amps in zip(peak, main, strict=True)]
        if any(
            amps >= fuses[fuse_id].limit_a - AT_LIMIT_MARGIN_A
            for fuse_id, load in loads.items()
            for amps in load
        ):
            at_limit_s += step_s
        local = moment.astimezone(zone)
        slot = (local.hour * 3600 + local.minute * 60 + local.second) // PROFILE_SLOT_S
        profile_sum[slot] += max(main) * step_s
        profile_seconds[slot] += step_s
        changed_before = changed_before or finished_any
        moment += step
    needed = sum(car.visit.need_wh for car in cars)
    delivered = sum(car.delivered_wh for car in cars)
    return Outcome(
        start=start,
        end=end,
        step_s=step_s,
        solves=solves,
        cars=len(cars),
        needed_kwh=needed / 1000,
        delivered_kwh=delivered / 1000,
        not_delivered_kwh=max(0.0, needed - delivered) / 1000,
        cars_short=sum(1 for car in cars if car.delivered_wh < car.visit.need_wh * SHORT_SHARE),
        hours_at_limit=at_limit_s / 3600,
        peak_main_a=[round(amps, 1) for amps in peak],
        day_profile_a=[
            (slot * PROFILE_SLOT_S, profile_sum[slot] / profile_seconds[slot])
            for slot in range(slots)
            if profile_seconds[slot]
        ],
        solve_seconds=solve_seconds,
        delivered_wh=_per_visit(len(visits), cars, "delivered_wh"),
        peak_draw_a=_per_visit(len(visits), cars, "peak_draw_a"),
    )


def _per_visit(count: int, cars: list[_Car], name: str) -> list[float]:
    values = [0.0] * count
    for car in cars:
        values[car.index] = getattr(car, name)
    return values


def _free_slot(present: dict[str, _Car], charger_id: str) -> str:
    """Where a car plugs in: its charger, or when another car is on it (a charger of several
    connectors), its next connector, balanced like a charger of its own on the same fuse."""
    slot, number = charger_id, 1
    while slot in present:
        number += 1
        slot = f"{charger_id}#{number}"
    return slot


def _path(fuse_id: str, fuses: dict[str, FuseSpec]) -> list[str]:
    path: list[str] = []
    node: str | None = fuse_id
    while node is not None and node in fuses and len(path) <= len(fuses):
        path.append(node)
        node = fuses[node].parent
    return path


def _phases_used(charger: ChargerSpec, car: _Car) -> list[int]:
    count = charger.phases
    if car.visit.car_phases is not None:
        count = min(count, car.visit.car_phases)
    if charger.can_switch_phases and car.allocation_phases == 1:
        count = 1
    return charger.phase_indexes()[:count]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshot(
    site: Site,
    chargers: dict[str, ChargerSpec],
    wanting: list[_Car],
    base: dict[str, list[float]],
    moment: datetime,
) -> dict[str, Any]:
    """The engine's snapshot: only the chargers with a car that still wants energy (the others
    draw nothing), each with what its car drew over the last step."""
    entries = []
    for car in wanting:
        charger = chargers[car.visit.charger]
        entry: dict[str, Any] = {
            "id": car.slot,
            "fuse": charger.fuse,
            "phases": charger.phases,
            "rotation": charger.rotation,
            "min_current": charger.min_current_a,
            "max_current": charger.max_current_a,
            "online": True,
            "car_connected": True,
            "car_phases": car.visit.car_phases if charger.phases == 3 else None,
            "measured": list(car.draw_a) if car.allocation_a else None,
            "current_limit": car.allocation_a or None,
            "priority": charger.priority,
            "connected_since": _iso(car.arrive_at),
            "energy_wh": round(car.delivered_wh),
        }
        if charger.can_switch_phases and charger.phases == 3:
            entry["can_switch_phases"] = True
            entry["active_phases"] = car.allocation_phases
        entries.append(entry)
    return {
        "now": _iso(moment),
        "installation": {
            "id": "plan",
            "voltage": site.voltage_v,
            "max_phase_imbalance": site.max_phase_imbalance_a,
            "failsafe_current": site.failsafe_current_a,
        },
        "fuses": [
            {
                "id": fuse.id,
                "parent": fuse.parent,
                "limit": [fuse.limit_a] * 3,
                "base_load": list(base.get(fuse.id, (0.0, 0.0, 0.0))),
            }
            for fuse in site.fuses
        ],
        "chargers": entries,
    }
