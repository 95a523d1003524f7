"""The balancing engine: one installation snapshot in, a current limit for every charger out.

`solve` takes and returns the JSON of docs/BALANCING.md (as Python dicts). It is pure: no I/O,
no clock (time is the snapshot's ``now``), no Django, and deterministic: chargers and fuses are
processed in id order and all arithmetic is on whole deci-amperes, so the same input always
gives byte-identical output.

The rules of the contract are applied in order, each in its own module:

1. never overload -> `balancing.engine.network` (every fuse, every phase, worst case, imbalance);
2. serve as many cars as possible, by priority, with rotation -> `balancing.engine.admission`
   (ranking and measurement reading in `balancing.engine.demand`);
3. max-min fair split -> `balancing.engine.fairness` (`balancing.engine.leximin` on small sites
   with a phase-imbalance limit);
4. no waste -> `balancing.engine.demand` (caps near the draw) and `fairness.top_up`;
5. calm -> `balancing.engine.calm` (hysteresis, and the ``change`` field with lowering-first order).

Output, beyond the contract:

- every allocation has ``"change"``: ``"lower"``, ``"raise"`` or ``"none"``, and the list is
  sorted lowering first (see `balancing.engine.calm`);
- ``"finished"``: the chargers whose car is finished (see `balancing.engine.demand`); they are not in
  ``"paused"``. The service passes them back as ``car_finished`` (see `balancing.engine.model`);
- offline chargers are listed with the failsafe current they apply by themselves (0 without a
  car) and change "none": nothing can be sent to them.

Input extensions (all optional) are documented in `balancing.engine.model`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from balancing.engine import tuning
from balancing.engine.admission import admit, admit_spare
from balancing.engine.calm import APPLY_ORDER, Change, apply_hysteresis, classify
from balancing.engine.demand import CarDemand, assess
from balancing.engine.fairness import FillItem, level_out, top_up, water_fill
from balancing.engine.leximin import LexItem, leximin
from balancing.engine.model import Charger, Scenario, ScenarioError, parse_scenario
from balancing.engine.network import Network, Terms, build_network
from balancing.engine.units import da_to_amps, floor_da, format_da, format_phases

__all__ = ["Allocation", "ChargerAllocation", "ScenarioError", "allocate", "solve"]


@dataclass(frozen=True, slots=True)
class ChargerAllocation:
    """The limit to send to one charger."""

    id: str
    current_da: int
    phases: int
    change: Change


@dataclass(frozen=True, slots=True)
class Allocation:
    """The engine's answer for a whole installation."""

    allocations: tuple[ChargerAllocation, ...]
    paused: tuple[str, ...]
    finished: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The contract's output JSON."""
        return {
            "allocations": [
                {
                    "id": item.id,
                    "current": da_to_amps(item.current_da),
                    "phases": item.phases,
                    "change": str(item.change),
                }
                for item in self.allocations
            ],
            "paused": list(self.paused),
            "finished": list(self.finished),
            "notes": list(self.notes),
        }


def solve(scenario: dict[str, Any]) -> dict[str, Any]:
    """Balance one snapshot; raises `ScenarioError` naming the bad field on invalid input."""
    with _without_cyclic_gc():
        return allocate(parse_scenario(scenario)).to_dict()


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cycle collector during a solve.

    A 3,000-charger solve allocates some 100,000 short-lived objects and creates no reference
    cycles; the collector, triggered by allocation counts, then spends up to 10 ms walking
    every live object (the caller's snapshot included) for nothing. Reference counting still
    frees everything at once. The previous state is restored, whatever happens.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def allocate(scenario: Scenario, *, hysteresis: bool = True) -> Allocation:
    """Balance an already parsed snapshot. `hysteresis=False` skips rule 5's hysteresis (the
    benchmark measures rule 3 on the exact fair split); the service never turns it off."""
    network = build_network(scenario)
    chargers = sorted(scenario.chargers, key=lambda charger: charger.id)
    cars = [
        assess(index, charger, scenario.now, network)
        for index, charger in enumerate(chargers)
        if charger.online and charger.car_connected
    ]
    notes_by_car: dict[int, list[str]] = {car.index: _reading_notes(car) for car in cars}
    # Rule 1 pauses only the cars that may draw on a phase already overloaded before any car:
    # that constraint has no room (see `balancing.engine.network`).
    eligible = list(cars)
    eligible.sort(key=lambda car: car.rank)

    # Rule 2, then rules 3 and 4 for the cars that want current, then finished cars from what
    # is left, then rule 5.
    modes = admit(eligible, network)
    for car in eligible:
        notes_by_car[car.index].extend(_admission_notes(car, modes, network))
    admitted = [car for car in eligible if car.index in modes]
    levels = _share(admitted, modes, network)
    finished = [car for car in eligible if car.finished]
    for car in finished:
        mode = admit_spare(car, network)
        if mode is not None:
            modes[car.index] = mode
            levels[car.index] = car.min_da
    if hysteresis:
        apply_hysteresis(admitted + finished, modes, levels, network)

    return _answer(scenario, chargers, cars, modes, levels, notes_by_car, network)


def _share(admitted: list[CarDemand], modes: dict[int, int], network: Network) -> dict[int, int]:
    """Water-filling priority by priority (each level sees the lower ones at their minimum),
    then the leftover tenths of an ampere. On small sites with an imbalance limit, the exact
    split of `balancing.engine.leximin` instead; on small sites, then, `level_out` the tenths
    that rounding left uneven."""
    small = len(admitted) <= tuning.EXACT_FAIR_MAX_CARS
    levels: dict[int, int] | None = None
    if network.imbalance_limited and small:
        levels = _exact_share(admitted, modes, network)
    if levels is None:
        levels = _water_fill_by_priority(admitted, modes, network)
    if small:
        items = [
            FillItem(car.index, car.min_da, car.cap_da, car.terms[modes[car.index]])
            for car in admitted
        ]
        priority = {car.index: car.charger.priority for car in admitted}
        if level_out(items, levels, priority, network):
            top_up(items, levels, network)
    return levels


def _water_fill_by_priority(
    admitted: list[CarDemand], modes: dict[int, int], network: Network
) -> dict[int, int]:
    levels: dict[int, int] = {}
    everyone: list[FillItem] = []
    for _, level_cars in groupby(admitted, key=lambda car: car.rank[0]):
        items = [
            FillItem(car.index, car.min_da, car.cap_da, car.terms[modes[car.index]])
            for car in level_cars
        ]
        levels.update(water_fill(items, network))
        top_up(items, levels, network)
        everyone += items
    # Under an imbalance limit, raising a car on one phase makes room on the others again.
    if network.imbalance_limited:
        for _ in range(tuning.MAX_FILL_ROUNDS):
            if not top_up(everyone, levels, network):
                break
    return levels


def _exact_share(
    admitted: list[CarDemand], modes: dict[int, int], network: Network
) -> dict[int, int] | None:
    """`leximin`'s currents rounded down to whole deci-amperes, checked and taken from
    `network`, then the leftover tenths handed out; None (network untouched) if that fails."""
    items = [
        LexItem(
            car.index, car.charger.priority, car.min_da, car.cap_da, car.terms[modes[car.index]]
        )
        for car in admitted
    ]
    values = leximin(items, network.headroom_da)
    if values is None:
        return None
    levels: dict[int, int] = {}
    for item in items:
        level = min(item.high_da, max(item.low_da, int(values[item.index] + 1e-6)))
        levels[item.index] = level
        network.take(item.terms, level - item.low_da)
    # Rounding each car down can still leave an imbalance pair a tenth over (the car that
    # balances it was rounded down too): lower the highest car loading it, a tenth at a time.
    headroom = network.headroom_da
    for _ in range(tuning.EXACT_FAIR_MAX_CARS * 4):
        over = next((index for index, room in enumerate(headroom) if room < 0), None)
        if over is None:
            break
        loading = [
            item for item in items if levels[item.index] > item.low_da and (over, 1) in item.terms
        ]
        if not loading:
            break
        highest = max(loading, key=lambda item: (levels[item.index], item.index))
        network.give_back(highest.terms, 1)
        levels[highest.index] -= 1
    if any(room < 0 for room in headroom):
        for item in items:
            network.give_back(item.terms, levels[item.index] - item.low_da)
        return None
    fill = [FillItem(item.index, item.low_da, item.high_da, item.terms) for item in items]
    for _ in range(tuning.MAX_FILL_ROUNDS):
        if not top_up(fill, levels, network):
            break
    return levels


def _answer(
    scenario: Scenario,
    chargers: list[Charger],
    cars: list[CarDemand],
    modes: dict[int, int],
    levels: dict[int, int],
    notes_by_car: dict[int, list[str]],
    network: Network,
) -> Allocation:
    """One allocation per charger, lowering ones first, with the lists and notes."""
    car_by_index = {car.index: car for car in cars}
    allocations = []
    paused = []
    finished = []
    notes = list(network.notes)
    failsafe_da = floor_da(scenario.installation.failsafe_current_a)
    for index, charger in enumerate(chargers):
        if not charger.online:
            current_da = failsafe_da if charger.car_connected else 0
            allocations.append(
                ChargerAllocation(charger.id, current_da, charger.phases, Change.NONE)
            )
            if charger.car_connected:
                notes.append(
                    f"{charger.id} offline: {format_da(failsafe_da)} failsafe reserved on "
                    f"{format_phases(charger.rotation[: charger.phases])}"
                )
            continue
        old_da = None if charger.current_limit_a is None else floor_da(charger.current_limit_a)
        current_da = levels.get(index, 0)
        mode = modes.get(index, charger.active_phases)
        change = classify(old_da, charger.active_phases, current_da, mode)
        allocations.append(ChargerAllocation(charger.id, current_da, mode, change))
        car = car_by_index.get(index)
        if car is None:
            continue
        notes.extend(notes_by_car[index])
        if car.finished:
            finished.append(charger.id)
        elif current_da == 0:
            paused.append(charger.id)
    allocations.sort(key=lambda item: (APPLY_ORDER[item.change], item.id))
    return Allocation(tuple(allocations), tuple(paused), tuple(finished), tuple(notes))


def _reading_notes(car: CarDemand) -> list[str]:
    """What the engine concluded from the measurement, in words."""
    charger = car.charger
    notes = []
    if car.detected_phases is not None and car.detected_phases < charger.phases:
        used = charger.rotation[: car.detected_phases]
        notes.append(
            f"{charger.id} car draws on {format_phases(used)} only (measured): "
            "nothing is reserved on its other phases"
        )
    if car.finished:
        drawing = "nothing" if car.draw_a is None else f"{car.draw_a:.1f} A"
        notes.append(
            f"{charger.id} finished: draws {drawing} while allowed to charge, so it gets its "
            "minimum only from current no other car can use"
        )
    elif not car.wanting:
        notes.append(f"{charger.id} paused: no 0.1 A step between its min and max current")
    elif car.held:
        notes.append(
            f"{charger.id} held near its draw: {car.draw_a:.1f} A of {charger.current_limit_a:g} A"
            f" allowed, so at most {format_da(car.cap_da)}"
        )
    return notes


def _admission_notes(car: CarDemand, modes: dict[int, int], network: Network) -> list[str]:
    """Why a car is paused, or on 1 phase, in terms of the constraint that stops it."""
    charger = car.charger
    mode = modes.get(car.index)
    if mode is None and car.wanting:
        smallest = min(car.footprints)
        reason = _why_not(network, car.terms[smallest], car.min_da)
        return [f"{charger.id} paused: {reason}"]
    if mode == 1 and 3 in car.footprints:
        # Ask as if the car were not there on 1 phase already.
        network.give_back(car.terms[1], car.min_da)
        blocked = network.blocking(car.terms[3], car.min_da)
        reason = _why_not(network, car.terms[3], car.min_da)
        network.take(car.terms[1], car.min_da)
        if not blocked:
            return [
                f"{charger.id} stays on 1 phase: 3 phases would fit, but not with the "
                f"{tuning.PHASE_SWITCH_UP_MARGIN_A:g} A margin for switching back"
            ]
        return [f"{charger.id} told to charge on 1 phase: on 3 phases {reason}"]
    return []


def _why_not(network: Network, terms: Terms, amount_da: int) -> str:
    # A phase overloaded before any car explains more than one that cars filled.
    blocking = sorted(
        network.blocking(terms, amount_da), key=lambda index: index not in network.overloaded
    )
    if not blocking:
        return f"cars ranked before it take the room for {format_da(amount_da)}"
    return network.describe(blocking[0], amount_da)
