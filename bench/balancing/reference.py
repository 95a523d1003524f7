"""Exact references for the balancing engine's rules 2 and 3, to measure the engine against.

The references solve the problems the engine faces, built with the engine's own reading of the
snapshot (`balancing.engine.demand`, `balancing.engine.network`: which cars want current, their
phases, minimum, cap, and the constraints left after base loads and offline reservations), and
decide them exactly with scipy's HiGHS solvers:

- `optimum` (rule 2), a mixed-integer program: one binary per car and phase mode ("charges in
  this mode"), at most one mode per car; one current per car and mode, its minimum when chosen,
  0 otherwise (optionally anything up to its cap); every constraint of `balancing.engine.network`
  with the engine's coefficients; objective: cars served, lexicographically by priority, strict:
  the weight of a level is (n + 1) ** rank, more than all n cars of the lower levels together,
  so no number of lower-priority cars ever outweighs one car of a higher priority. A constraint
  already below zero (a fuse phase overloaded by base load or offline reservations) has room 0:
  the cars that load it are paused, the others under that fuse are not (rule 1).
  `useful_current_optimum` then keeps those counts and maximises the current the cars can use
  (each car's current up to its cap, times the phases it loads): the throughput a
  fairness-blind optimiser would reach.
- `fair_split` (rule 3), a sequence of linear programs: for a given set of served cars in given
  phase modes, the exact max-min fair currents (lexicographic max-min, "leximin"), priority
  level by priority level, highest first; while a level is filled the cars of lower levels may
  sit anywhere between their minimum and their cap (under an imbalance limit raising them can
  make room), the higher levels keep what they got.
- `fits_with` (the strict-priority check): whether a set of cars at their minimums, in given
  modes, keeps every constraint, in whole deci-amperes as the engine counts.

scipy is used here only; the engine never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

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


@dataclass(frozen=True)
class Problem:
    """A snapshot as the engine reads it."""

    # Every online charger with a car connected (wanting current, finished, or neither).
    cars: list[CarDemand]
    network: Network
    # Room of every constraint before any car; a constraint already below zero has room 0.
    capacity: list[int]

    @property
    def wanting(self) -> list[CarDemand]:
        return [car for car in self.cars if car.wanting]


def problem(scenario: dict[str, Any]) -> Problem:
    """Read a snapshot with the engine's own modules."""
    parsed = parse_scenario(scenario)
    network = build_network(parsed)
    chargers = sorted(parsed.chargers, key=lambda charger: charger.id)
    cars = [
        assess(index, charger, parsed.now, network)
        for index, charger in enumerate(chargers)
        if charger.online and charger.car_connected
    ]
    capacity = [max(room, 0) for room in network.headroom_da]
    return Problem(cars, network, capacity)


def _problem(scenario: dict[str, Any]) -> tuple[list[CarDemand], Problem]:
    read = problem(scenario)
    return read.wanting, read


def served_modes(read: Problem, result: dict[str, Any]) -> dict[int, int]:
    """Car index -> phase mode of every car the engine's `result` gives current to."""
    by_id = {item["id"]: item for item in result["allocations"]}
    modes = {}
    for car in read.cars:
        allocation = by_id[car.charger.id]
        if allocation["current"] > 0:
            phases = allocation["phases"]
            modes[car.index] = phases if phases in car.footprints else max(car.footprints)
    return modes


def fits_with(read: Problem, chosen: list[tuple[CarDemand, int]]) -> bool:
    """Whether these cars, each at its minimum in the given mode, keep every constraint."""
    room = list(read.capacity)
    for car, mode in chosen:
        for index, sign in car.terms[mode]:
            room[index] -= sign * car.min_da
    return all(value >= 0 for value in room)


# Numerical slack of the linear programs, in deci-amperes.
_EPS_DA = 1e-6


def fair_split(
    read: Problem, modes: dict[int, int], start_da: dict[int, int] | None = None
) -> dict[int, float]:
    """The exact max-min fair currents (deci-amperes, not rounded) of the cars in `modes`
    (index -> phase mode), priority level by priority level. Finished cars stay at their
    minimum (their cap). Raises RuntimeError if the cars do not fit at their minimums."""
    cars = [car for car in read.cars if car.index in modes]
    if not cars:
        return {}
    count = len(cars)
    rows: dict[int, np.ndarray] = {}
    for column, car in enumerate(cars):
        for index, sign in car.terms[modes[car.index]]:
            rows.setdefault(index, np.zeros(count + 1))[column] += sign
    order = sorted(rows)
    a_ub = np.array([rows[index] for index in order]) if order else np.zeros((0, count + 1))
    b_ub = np.array([float(read.capacity[index]) for index in order])
    low = [float(car.min_da) for car in cars]
    high = [float(max(car.cap_da, car.min_da)) for car in cars]
    fixed: dict[int, float] = {}
    for column in range(count):
        if low[column] >= high[column]:
            fixed[column] = low[column]
    priorities = sorted({car.charger.priority for car in cars}, reverse=True)
    for priority in priorities:
        free = [
            column
            for column, car in enumerate(cars)
            if car.charger.priority == priority and column not in fixed
        ]
        while free:
            level = _max_level(a_ub, b_ub, low, high, fixed, free, count)
            spread = _solve(a_ub, b_ub, low, high, fixed, free, level, count, objective=free)
            candidates = [column for column in free if spread[column] <= level + 1e-5]
            saturated = [
                column
                for column in candidates
                if _solve(a_ub, b_ub, low, high, fixed, free, level, count, objective=[column])[
                    column
                ]
                <= level + 1e-5
            ]
            for column in saturated or candidates or free:
                fixed[column] = max(level, low[column])
            free = [column for column in free if column not in fixed]
    return {car.index: fixed[column] for column, car in enumerate(cars)}


def _bounds(
    low: list[float], high: list[float], fixed: dict[int, float], count: int
) -> list[tuple[float, float | None]]:
    bounds: list[tuple[float, float | None]] = []
    for column in range(count):
        value = fixed.get(column)
        bounds.append((value, value) if value is not None else (low[column], high[column]))
    return bounds


def _max_level(
    a_ub: np.ndarray,
    b_ub: np.ndarray,
    low: list[float],
    high: list[float],
    fixed: dict[int, float],
    free: list[int],
    count: int,
) -> float:
    """The highest t with every free car at max(its minimum, t) or more."""
    extra = np.zeros((len(free), count + 1))
    for row, column in enumerate(free):
        extra[row, column] = -1.0
        extra[row, count] = 1.0
    objective = np.zeros(count + 1)
    objective[count] = -1.0
    bounds = [*_bounds(low, high, fixed, count), (0.0, max(high[column] for column in free))]
    result = linprog(
        objective,
        A_ub=np.vstack([a_ub, extra]),
        b_ub=np.concatenate([b_ub, np.zeros(len(free))]),
        bounds=bounds,
        method="highs",
    )
    if not result.success:
        raise RuntimeError(f"fair split: {result.message}")
    return float(result.x[count])


def _solve(
    a_ub: np.ndarray,
    b_ub: np.ndarray,
    low: list[float],
    high: list[float],
    fixed: dict[int, float],
    free: list[int],
    level: float,
    count: int,
    *,
    objective: list[int],
) -> np.ndarray:
    """Most current for the `objective` cars with every free car at `level` or more."""
    bounds = _bounds(low, high, fixed, count)
    for column in free:
        bounds[column] = (max(low[column], level - _EPS_DA), high[column])
    weights = np.zeros(count + 1)
    for column in objective:
        weights[column] = -1.0
    bounds.append((0.0, 0.0))
    result = linprog(weights, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if not result.success:
        raise RuntimeError(f"fair split: {result.message}")
    return result.x


def optimum(scenario: dict[str, Any], *, raise_for_imbalance: bool = False) -> Reference:
    """Most cars served (lexicographically by priority), then most useful current.

    Cars are counted at their minimum current, as the engine admits them; with
    `raise_for_imbalance` a car may also be counted above it, which can meet a phase-imbalance
    limit that no set of minimums meets (an upper bound the engine does not aim for).
    """
    cars, read = _problem(scenario)
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
        upper.append(read.capacity[index])
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
