"""Rule 3 exactly, for small sites under a phase-imbalance limit.

The event-driven water-filling of `balancing.engine.fairness` is exact on fuses, where every car
only takes room. An imbalance limit is different: a car on L3 *makes* room for cars on L1 under
"L1 minus L3". Rounds of filling then give the room a balancing car makes to whoever still
rises (a 3-phase car takes the fuse room that 2-phase cars needed once the pair lets them
rise); with several priorities the filling goes level by level, each level seeing the lower
ones at their minimum, so a lower-priority car that balances the phases lifts the limit for
the cars of its own level and a higher-priority car it could have helped stays low. The exact
answer lets the lower levels move while a level is filled:

    for each priority level, highest first: raise the level's cars max-min fairly (the lowest
    as high as possible, then the next, ...), every higher level kept where it ended, every
    lower-level car anywhere between its minimum and its cap; keep the level's result.

Each step is the linear program "maximise t with every still-rising car of the level at t or
more" over the same constraints as `balancing.engine.network`; the cars whose "at least t" has
a positive dual price cannot rise above t in any solution (complementary slackness), so they
stop there, and the program is solved again for the rest. The programs are small (the cars of
one site), solved by a dense two-phase simplex with Bland's rule (no cycling), in floats;
`solve` then rounds down to whole deci-amperes and checks every constraint exactly.

Only `solve._share` calls this, on sites with at most `tuning.EXACT_FAIR_MAX_CARS` cars
charging: pure Python, it costs milliseconds there, and the rounds of water-filling are close
enough everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from balancing.engine.network import Terms

_EPS = 1e-9
# Pivots per program; a dense program of 40 cars needs well under a hundred.
_MAX_PIVOTS = 2_000


@dataclass(frozen=True, slots=True)
class LexItem:
    """One charging car: its current may go from `low_da` to `high_da` on `terms`."""

    index: int
    priority: int
    low_da: int
    high_da: int
    terms: Terms


def leximin(items: Sequence[LexItem], room_da: Sequence[int]) -> dict[int, float] | None:
    """The exact max-min fair currents (deci-amperes, not rounded), priority level by level.

    `room_da` is each constraint's room with every car at its `low_da`. Returns None if a
    program fails (it should not: every car at its minimum is feasible).
    """
    # Variables: how far above its minimum each car is ("rise"), for cars that can rise.
    rising = [item for item in items if item.high_da > item.low_da]
    decided: dict[int, float] = {}
    for priority in sorted({item.priority for item in rising}, reverse=True):
        level = [position for position, item in enumerate(rising) if item.priority == priority]
        while level:
            result = _max_level(rising, decided, level, room_da)
            if result is None:
                return None
            top, saturated = result
            for position in saturated:
                decided[position] = max(top - rising[position].low_da, 0.0)
            level = [position for position in level if position not in decided]
    values = {item.index: float(item.low_da) for item in items}
    for position, rise in decided.items():
        values[rising[position].index] = rising[position].low_da + rise
    return values


def _max_level(
    rising: list[LexItem], decided: dict[int, float], level: list[int], room_da: Sequence[int]
) -> tuple[float, list[int]] | None:
    """Maximise t with every car of `level` at t or more; returns t and the cars stuck at t."""
    free = [position for position in range(len(rising)) if position not in decided]
    column_of = {position: column for column, position in enumerate(free)}
    width = len(free) + 1  # the rises, then t
    t_column = len(free)
    rows: dict[int, list[float]] = {}
    rhs: dict[int, float] = {}
    for position, item in enumerate(rising):
        rise = decided.get(position)
        for index, sign in item.terms:
            if index not in rows:
                rows[index] = [0.0] * width
                rhs[index] = float(room_da[index])
            if rise is None:
                rows[index][column_of[position]] += sign
            else:
                rhs[index] -= sign * rise
    matrix: list[list[float]] = []
    bounds: list[float] = []
    for index in sorted(rows):
        if any(rows[index]):
            matrix.append(rows[index])
            bounds.append(rhs[index])
    for position in free:  # rise <= cap - minimum
        row = [0.0] * width
        row[column_of[position]] = 1.0
        matrix.append(row)
        bounds.append(float(rising[position].high_da - rising[position].low_da))
    first_level_row = len(matrix)
    for position in level:  # t - rise <= minimum, i.e. current >= t
        row = [0.0] * width
        row[column_of[position]] = -1.0
        row[t_column] = 1.0
        matrix.append(row)
        bounds.append(float(rising[position].low_da))
    row = [0.0] * width  # t <= the highest cap: keeps the program bounded
    row[t_column] = 1.0
    matrix.append(row)
    bounds.append(float(max(rising[position].high_da for position in level)))
    objective = [0.0] * width
    objective[t_column] = 1.0
    solved = _maximize(objective, matrix, bounds)
    if solved is None:
        return None
    values, duals = solved
    top = values[t_column]
    saturated = [
        position for offset, position in enumerate(level) if duals[first_level_row + offset] > 1e-7
    ]
    if not saturated:  # numerically flat: those exactly at t
        saturated = [
            position
            for position in level
            if rising[position].low_da + values[column_of[position]] <= top + 1e-6
        ] or list(level)
    return top, saturated


def _maximize(
    objective: list[float], matrix: list[list[float]], bounds: list[float]
) -> tuple[list[float], list[float]] | None:
    """max objective.x with matrix.x <= bounds, x >= 0. Returns (x, dual price of each row),
    or None if infeasible or unbounded. Two-phase tableau simplex, Bland's rule."""
    count = len(objective)
    height = len(matrix)
    flipped = [bound < -1e-7 for bound in bounds]
    artificial = [row for row in range(height) if flipped[row]]
    width = count + height + len(artificial)
    table: list[list[float]] = []
    basis: list[int] = []
    for row in range(height):
        sign = -1.0 if flipped[row] else 1.0
        line = [sign * value for value in matrix[row]] + [0.0] * (width - count)
        line[count + row] = sign
        line.append(sign * bounds[row] if flipped[row] else max(bounds[row], 0.0))
        table.append(line)
        basis.append(count + row)
    for number, row in enumerate(artificial):
        table[row][count + height + number] = 1.0
        basis[row] = count + height + number
    slack_end = count + height
    if artificial:
        # Phase 1: maximise minus the sum of the artificial variables.
        goal = [0.0] * (width + 1)
        for number in range(len(artificial)):
            goal[slack_end + number] = 1.0
        for row in artificial:
            goal = [value - entry for value, entry in zip(goal, table[row], strict=True)]
        if not _iterate(table, goal, basis, slack_end):
            return None
        if goal[-1] < -1e-6:
            return None
        for row in range(height):
            if basis[row] >= slack_end:
                for column in range(slack_end):
                    if abs(table[row][column]) > 1e-7:
                        _pivot(table, goal, basis, row, column)
                        break
    goal = [-value for value in objective] + [0.0] * (width - count + 1)
    for row in range(height):
        coefficient = goal[basis[row]]
        if coefficient:
            goal = [
                value - coefficient * entry for value, entry in zip(goal, table[row], strict=True)
            ]
    if not _iterate(table, goal, basis, slack_end):
        return None
    values = [0.0] * count
    for row in range(height):
        if basis[row] < count:
            values[basis[row]] = table[row][-1]
    duals = [goal[count + row] if not flipped[row] else -goal[count + row] for row in range(height)]
    return values, duals


def _iterate(table: list[list[float]], goal: list[float], basis: list[int], allowed: int) -> bool:
    """Pivot until optimal (True) or unbounded / out of pivots (False)."""
    for _ in range(_MAX_PIVOTS):
        enter = next((column for column in range(allowed) if goal[column] < -_EPS), None)
        if enter is None:
            return True
        leave = None
        best = 0.0
        for row, line in enumerate(table):
            coefficient = line[enter]
            if coefficient > _EPS:
                ratio = line[-1] / coefficient
                if (
                    leave is None
                    or ratio < best - _EPS
                    or (ratio <= best + _EPS and basis[row] < basis[leave])
                ):
                    leave, best = row, ratio
        if leave is None:
            return False
        _pivot(table, goal, basis, leave, enter)
    return False


def _pivot(
    table: list[list[float]], goal: list[float], basis: list[int], row: int, enter: int
) -> None:
    pivot = table[row][enter]
    line = [value / pivot for value in table[row]]
    table[row] = line
    for other, entries in enumerate(table):
        if other != row:
            factor = entries[enter]
            if factor:
                table[other] = [a - factor * b for a, b in zip(entries, line, strict=True)]
    factor = goal[enter]
    if factor:
        goal[:] = [a - factor * b for a, b in zip(goal, line, strict=True)]
    basis[row] = enter
