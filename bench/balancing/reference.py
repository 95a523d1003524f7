"""Exact optimum of rule 2 by mixed-integer programming, to measure the engine against.

The reference solves the same problem the engine's admission step faces, built with the
engine's own reading of the snapshot (`balancing.engine.demand`, `balancing.engine.network`: which cars want
current, their phases, minimum, cap, and the constraints left after base loads and offline
reservations), and then decides exactly, with scipy's HiGHS MILP solver:

- one binary per car and phase mode ("charges in this mode"), at most one mode per car;
- one current per car and mode: its minimum when chosen, 0 otherwise (optionally anything up
  to its cap, see `optimum`);
- every constraint of `balancing.engine.network` with the engine's coefficients;
- objective: cars served, lexicographically by priority (weights (n + 1) ** level).

`useful_current_optimum` then keeps those counts and maximises the current the cars can use
(each car's current up to its cap, times the phases it loads): the throughput a
fairness-blind optimiser would reach. scipy is used here only; the engine never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from balancing.engine.demand import CarDemand, assess
from balancing.engine.model import parse_scenario
from balancing.engine.network import Network, build_network


@dataclass(frozen=True)
class Reference:
    """The exact optimum of a snapshot."""

    served_by_priority: dict[int, int]
    wanting_by_priority: dict[int, int]
    useful_current_a: float

    @property
    def served(self) -> int:
        return sum(self.served_by_priority.values())


def _problem(scenario: dict[str, Any]) -> tuple[list[CarDemand], Network]:
    parsed = parse_scenario(scenario)
    network = build_network(parsed)
    chargers = sorted(parsed.chargers, key=lambda charger: charger.id)
    cars = [
        assess(index, charger, parsed.now, network)
        for index, charger in enumerate(chargers)
        if charger.online and charger.car_connected
    ]
    eligible = [
        car
        for car in cars
        if car.wanting and network.under_overloaded_fuse(car.charger.fuse) is None
    ]
    return eligible, network


def optimum(scenario: dict[str, Any], *, raise_for_imbalance: bool = False) -> Reference:
    """Most cars served (lexicographically by priority), then most useful current.

    Cars are counted at their minimum current, as the engine admits them; with
    `raise_for_imbalance` a car may also be counted above it, which can meet a phase-imbalance
    limit that no set of minimums meets (an upper bound the engine does not aim for).
    """
    cars, network = _problem(scenario)
    wanting: dict[int, int] = {}
    for car in cars:
        wanting[car.charger.priority] = wanting.get(car.charger.priority, 0) + 1
    if not cars:
        return Reference({}, {}, 0.0)
    columns = [(car, mode) for car in cars for mode in sorted(car.footprints)]
    count = len(columns)
    # Variables: x[0:count] binaries "charges in this mode", x[count:2count] currents (dA).
    rows: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []

    def row() -> np.ndarray:
        return np.zeros(2 * count)

    for column, (car, _) in enumerate(columns):
        low_row = row()  # current >= min * chosen
        low_row[count + column] = 1
        low_row[column] = -car.min_da
        rows.append(low_row)
        lower.append(0)
        upper.append(np.inf)
        high_row = row()  # current <= cap * chosen (or exactly the minimum)
        high_row[count + column] = 1
        high_row[column] = -(car.cap_da if raise_for_imbalance else car.min_da)
        rows.append(high_row)
        lower.append(-np.inf)
        upper.append(0)
    for car in cars:
        one_mode = row()
        for column, (other, _) in enumerate(columns):
            if other.index == car.index:
                one_mode[column] = 1
        rows.append(one_mode)
        lower.append(0)
        upper.append(1)
    constraint_rows: dict[int, np.ndarray] = {}
    for column, (car, mode) in enumerate(columns):
        for index, sign in car.terms[mode]:
            constraint_rows.setdefault(index, row())[count + column] += sign
    for index in sorted(constraint_rows):
        rows.append(constraint_rows[index])
        lower.append(-np.inf)
        upper.append(network.headroom_da[index])
    matrix = np.array(rows)
    bounds = Bounds(np.zeros(2 * count), np.array([1] * count + [car.cap_da for car, _ in columns]))
    integrality = np.array([1] * count + [0] * count)
    constraints = LinearConstraint(matrix, lower, upper)

    levels = sorted(wanting)
    weight = {priority: (len(cars) + 1) ** rank for rank, priority in enumerate(levels)}
    objective = np.zeros(2 * count)
    for column, (car, _) in enumerate(columns):
        objective[column] = -weight[car.charger.priority]
    result = milp(objective, constraints=constraints, integrality=integrality, bounds=bounds)
    if not result.success:
        raise RuntimeError(f"reference MILP failed: {result.message}")
    chosen = np.round(result.x[:count]).astype(int)
    served: dict[int, int] = {}
    for column, (car, _) in enumerate(columns):
        if chosen[column]:
            served[car.charger.priority] = served.get(car.charger.priority, 0) + 1

    # Second stage: same counts per priority, most useful current (phase-amperes).
    keep_rows: list[np.ndarray] = []
    keep_lower: list[int] = []
    for priority in levels:
        keep = row()
        for column, (car, _) in enumerate(columns):
            if car.charger.priority == priority:
                keep[column] = 1
        keep_rows.append(keep)
        keep_lower.append(served.get(priority, 0))
    throughput = np.zeros(2 * count)
    for column, (car, mode) in enumerate(columns):
        throughput[count + column] = -len(car.footprints[mode])
        rows[2 * column + 1][column] = -car.cap_da  # now any current up to the cap
    second = milp(
        throughput,
        constraints=[
            LinearConstraint(np.array(rows), lower, upper),
            LinearConstraint(np.array(keep_rows), keep_lower, [np.inf] * len(levels)),
        ],
        integrality=integrality,
        bounds=bounds,
    )
    useful_da = -second.fun if second.success else 0.0
    return Reference(served, wanting, useful_da / 10)


def engine_figures(scenario: dict[str, Any], result: dict[str, Any]) -> Reference:
    """The engine's allocation in the same terms as `optimum`."""
    cars, _ = _problem(scenario)
    by_id = {item["id"]: item for item in result["allocations"]}
    served: dict[int, int] = {}
    wanting: dict[int, int] = {}
    useful_a = 0.0
    for car in cars:
        priority = car.charger.priority
        wanting[priority] = wanting.get(priority, 0) + 1
        allocation = by_id[car.charger.id]
        if allocation["current"] > 0:
            served[priority] = served.get(priority, 0) + 1
            mode = allocation["phases"] if allocation["phases"] in car.footprints else 3
            usable_a = min(allocation["current"], car.cap_da / 10)
            useful_a += usable_a * len(car.footprints[mode])
    return Reference(served, wanting, useful_a)
