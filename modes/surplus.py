"""Surplus mode, pure: which surplus-mode cars charge, on how many phases, and their caps.

Surplus-mode cars share only the surplus reported (per phase L1-L3, A). The rules
(docs/balancing.md "Charge modes"):

- Cars are taken in order: those charging from the surplus first (so a running car keeps its
  place), then by priority (highest first) and arrival. Each needs its minimum current on the
  phases it draws on; the surplus left after the cars before it must cover that.
- A waiting car whose minimum is covered starts only after it has been covered for
  ``start_after`` (N minutes) without a break; until then it waits (0 A) but holds its place
  (the surplus it would use is not offered to the next waiting car).
- A charging car whose minimum is no longer covered keeps charging at its minimum (from the
  grid) until it has been short for ``stop_after`` (M minutes) without a break, then stops.
- With ``one_phase`` allowed, a car on a charger that can switch phases charges on one phase
  (its rotation's first) when the surplus covers one phase's minimum but not three; it goes back
  to three phases when every phase has its minimum plus ``SWITCH_UP_MARGIN_A``.
- What the charging cars' minimums leave of the surplus is shared max-min fairly among them on
  top of their minimum (progressive filling per phase), up to each car's maximum: the cap.

The state (``CarState``) is what ``modes.SurplusState`` persists between solves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

SWITCH_UP_MARGIN_A = 2.0


@dataclass(frozen=True)
class CarState:
    """A surplus-mode car's place in the hysteresis."""

    active: bool = False
    one_phase: bool = False
    enough_since: datetime | None = None
    short_since: datetime | None = None


@dataclass(frozen=True)
class SurplusCar:
    """A surplus-mode car as the decision needs it. ``phases``: the installation phase index of
    each phase it may draw on (first: the one it uses on one phase)."""

    id: int
    phases: tuple[int, ...]
    min_current_a: float
    max_current_a: float
    can_switch: bool
    priority: int
    arrived_at: datetime
    state: CarState


@dataclass(frozen=True)
class Decision:
    """What one surplus-mode car gets now, and its new state."""

    cap_a: float
    one_phase: bool
    state: CarState
    reason: str


def decide(
    cars: Sequence[SurplusCar],
    surplus_a: Sequence[float],
    now: datetime,
    *,
    start_after: timedelta,
    stop_after: timedelta,
    one_phase: bool,
) -> dict[int, Decision]:
    """The cap and new state of every surplus-mode car (see the module's rules)."""
    budget = [max(0.0, float(value)) for value in surplus_a]
    order = sorted(cars, key=lambda car: (not car.state.active, -car.priority, car.arrived_at))
    decisions: dict[int, Decision] = {}
    charging: list[tuple[SurplusCar, tuple[int, ...]]] = []  # with the phases used
    for car in order:
        phases = _phases_that_fit(car, budget, one_phase)
        state = car.state
        if phases:
            for phase in phases:
                budget[phase] -= car.min_current_a
        if state.active:
            if phases:
                charging.append((car, phases))
                continue
            short_since = state.short_since or now
            if now - short_since >= stop_after:
                decisions[car.id] = Decision(
                    0.0, state.one_phase, CarState(), "surplus: stopped, short for too long"
                )
            else:
                decisions[car.id] = Decision(
                    car.min_current_a,
                    state.one_phase,
                    replace(state, short_since=short_since),
                    f"surplus: short since {short_since:%H:%M:%S}, keeps its minimum",
                )
            continue
        if not phases:
            decisions[car.id] = Decision(0.0, False, CarState(), "surplus: waits for a surplus")
            continue
        enough_since = state.enough_since or now
        if now - enough_since >= start_after:
            charging.append((car, phases))
            continue
        decisions[car.id] = Decision(
            0.0,
            False,
            CarState(enough_since=enough_since),
            f"surplus: enough since {enough_since:%H:%M:%S}, starts after the start delay",
        )
    # The minimums of the charging cars and of the waiting cars that hold their place are taken;
    # the rest is shared among the charging cars (a waiting car gets its part once it starts).
    shares = _share(charging, budget)
    for car, phases in charging:
        cap = (
            math.floor(min(car.max_current_a, car.min_current_a + shares[car.id]) * 10 + 1e-6) / 10
        )
        decisions[car.id] = Decision(
            max(cap, car.min_current_a),
            len(phases) == 1,
            CarState(active=True, one_phase=len(phases) == 1),
            f"surplus: {cap:g} A on {len(phases)} phase{'s' if len(phases) > 1 else ''}",
        )
    return decisions


def _phases_that_fit(car: SurplusCar, budget: list[float], one_phase: bool) -> tuple[int, ...]:
    """The phases the car would charge on from what is left, or () when its minimum does not
    fit. Three phases when they fit (with a margin to switch back up from one phase)."""
    margin = SWITCH_UP_MARGIN_A if car.state.one_phase else 0.0
    if all(budget[phase] >= car.min_current_a + margin for phase in car.phases):
        return car.phases
    if one_phase and car.can_switch and len(car.phases) > 1:
        first = car.phases[0]
        if budget[first] >= car.min_current_a:
            return (first,)
    if car.state.one_phase and all(budget[p] >= car.min_current_a for p in car.phases):
        return car.phases  # within the margin but three phases fit: stay where it is
    return ()


def _share(
    charging: list[tuple[SurplusCar, tuple[int, ...]]], budget: list[float]
) -> dict[int, float]:
    """Progressive filling: raise every charging car's extra together; a car stops when one of
    its phases runs out or it reaches its maximum."""
    left = [max(0.0, value) for value in budget]
    extra = {car.id: 0.0 for car, _ in charging}
    rising = {car.id: (car, phases) for car, phases in charging}
    while rising:
        room = {
            car_id: car.max_current_a - car.min_current_a - extra[car_id]
            for car_id, (car, _) in rising.items()
        }
        counts = [0, 0, 0]
        for _, phases in rising.values():
            for phase in phases:
                counts[phase] += 1
        step = min(
            [room[car_id] for car_id in rising]
            + [left[phase] / counts[phase] for phase in range(3) if counts[phase]]
        )
        step = max(0.0, step)
        for car_id, (_, phases) in rising.items():
            extra[car_id] += step
            for phase in phases:
                left[phase] -= step
        done = {
            car_id
            for car_id, (_, phases) in rising.items()
            if room[car_id] - step <= 1e-9 or any(left[phase] <= 1e-9 for phase in phases)
        }
        if not done:
            break
        for car_id in done:
            del rising[car_id]
    return extra
