"""Rule 5: calm. Small moves are not sent, and lowering changes go out before raising ones.

**Hysteresis.** A charging car whose new limit differs from the one it has now by less than
`tuning.HYSTERESIS_A`, in the same phase mode, keeps its current limit, provided every constraint
still holds with it. Suppressed raises are kept first (they only give room back), then
suppressed decreases where they still fit; a decrease needed for safety is always sent. Pausing,
resuming and phase switches are never suppressed. The price is at most `HYSTERESIS_A` per car
left unused until the next larger change.

**Order.** Every allocation carries ``"change"``: ``"lower"`` (the charger's worst-case draw
goes down on every phase: a lower current, a pause, a switch from 3 phases to 1), ``"raise"``
(it goes up on some phase), or ``"none"``. The allocations list is sorted lowering first, then
raising, then unchanged, each by charger id. Sending the "lower" commands and waiting for them
to be accepted before sending the "raise" ones keeps every intermediate state within the limits
of both the old and the new allocation.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from balancing.engine import tuning
from balancing.engine.demand import CarDemand
from balancing.engine.network import Network
from balancing.engine.units import floor_da

_HYSTERESIS_DA = floor_da(tuning.HYSTERESIS_A)


class Change(StrEnum):
    """How an allocation moves the charger's limit, in the order they must be applied."""

    LOWER = "lower"
    RAISE = "raise"
    NONE = "none"


APPLY_ORDER = {Change.LOWER: 0, Change.RAISE: 1, Change.NONE: 2}


def apply_hysteresis(
    cars: Sequence[CarDemand],
    modes: dict[int, int],
    levels: dict[int, int],
    network: Network,
) -> None:
    """Keep the present limit instead of a slightly different new one where that is safe."""
    raises: list[tuple[CarDemand, int]] = []
    decreases: list[tuple[CarDemand, int]] = []
    for car in sorted(cars, key=lambda item: item.charger.id):
        target_da = levels.get(car.index, 0)
        old_limit_a = car.charger.current_limit_a
        mode = modes.get(car.index)
        if target_da == 0 or old_limit_a is None or mode != car.charger.active_phases:
            continue
        old_da = floor_da(old_limit_a)
        if old_da == target_da or abs(old_da - target_da) >= _HYSTERESIS_DA:
            continue
        if not car.min_da <= old_da <= floor_da(car.charger.max_current_a):
            continue
        (raises if target_da > old_da else decreases).append((car, old_da))
    for car, old_da in raises + decreases:
        terms = car.terms[modes[car.index]]
        change_da = old_da - levels[car.index]
        if network.fits(terms, change_da):
            network.take(terms, change_da)
            levels[car.index] = old_da


def classify(old_da: int | None, old_mode: int, new_da: int, new_mode: int) -> Change:
    """Whether going from the old limit and mode to the new ones lowers or raises the draw.

    A 1-phase mode loads a subset of the 3-phase mode's phases, so the draw goes down on every
    phase exactly when neither the current nor the mode goes up.
    """
    if old_da is None:
        return Change.RAISE if new_da > 0 else Change.LOWER
    if new_da == old_da and (new_mode == old_mode or new_da == 0):
        return Change.NONE
    if new_da <= old_da and (new_mode <= old_mode or new_da == 0):
        return Change.LOWER
    return Change.RAISE
