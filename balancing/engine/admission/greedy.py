"""Steps 1 and 2: admit cars one at a time where they fit, in rank order, by size (what each
takes from the oversubscribed constraints), or spread over the phases under an imbalance limit."""

from __future__ import annotations

from collections.abc import Iterable

from balancing.engine.demand import CarDemand
from balancing.engine.network import Network, Terms


def greedy(order: Iterable[CarDemand], network: Network) -> dict[int, int]:
    """Admit each car of `order` in turn where it fits; returns index -> mode of those admitted.

    `fitting_mode` and `Network.take`, inlined: this loop runs over every car several times
    per solve, and the calls were a fifth of its cost at 3,000 chargers.
    """
    chosen = {}
    headroom = network.headroom_da
    for car in order:
        amount_da = car.min_da
        for mode, terms in car.terms.items():
            for index, sign in terms:
                if headroom[index] < sign * amount_da:
                    break
            else:
                for index, sign in terms:
                    headroom[index] -= sign * amount_da
                chosen[car.index] = mode
                break
    return chosen


def balanced_greedy(wanting: list[CarDemand], network: Network) -> dict[int, int]:
    """Step 2b, under an imbalance limit: admit, one at a time, the fitting car that takes the
    fewest phase-amperes at its minimum (a 1-phase car at 6 A before a 3-phase car at 6 A),
    among those the one whose busiest phase carries least so far, then by rank.

    Greedy by rank or by size fills one phase with the smallest cars until an imbalance pair
    blocks it, and then gives the fuse room the other phases had to 3-phase cars; spreading
    1-phase cars over the phases as they come serves more (on mid-size depots with a 16 A
    limit, 187 of 200 at the optimum instead of 170). Quadratic in the cars of the level, so
    only up to `tuning.BALANCED_GREEDY_MAX_CARS`."""
    headroom = network.headroom_da
    remaining = list(wanting)
    chosen: dict[int, int] = {}
    load = [0, 0, 0]
    while remaining:
        best = None
        for position, car in enumerate(remaining):
            amount = car.min_da
            for mode, terms in car.terms.items():
                if any(headroom[index] < sign * amount for index, sign in terms):
                    continue
                footprint = car.footprints[mode]
                key = (len(footprint) * amount, max(load[phase] for phase in footprint), car.rank)
                if best is None or key < best[0]:
                    best = (key, position, mode)
        if best is None:
            break
        _, position, mode = best
        car = remaining.pop(position)
        network.take(car.terms[mode], car.min_da)
        chosen[car.index] = mode
        for phase in car.footprints[mode]:
            load[phase] += car.min_da
    return chosen


def fitting_mode(car: CarDemand, network: Network) -> int | None:
    """The smallest phase mode in which the car fits at its minimum, or None. (3 phases can fit
    where 1 does not only under an imbalance limit, which a 3-phase car does not touch.)"""
    for mode, mode_terms in car.terms.items():
        if network.fits(mode_terms, car.min_da):
            return mode
    return None


def sizes(wanting: list[CarDemand], network: Network) -> dict[int, tuple[float, int]]:
    """How much of the scarce capacity each car needs at its minimum, in its smallest mode.

    Each constraint is weighted by how oversubscribed it is (what all cars of the level would
    take from it over what it has; 0 when everyone fits), the classic greedy for
    multi-dimensional knapsacks: a 1-phase car at 10 A is "big" when its phase is the bottleneck
    and "small" when another phase is. Ties: fewer phase-amperes first.
    """
    # Terms are shared by all cars alike (same fuse, same phases): add up per terms first.
    smallest_terms = [next(iter(car.terms.values())) for car in wanting]
    need_by_terms: dict[int, tuple[Terms, int]] = {}
    for car, terms in zip(wanting, smallest_terms, strict=True):
        _, total = need_by_terms.get(id(terms), (terms, 0))
        need_by_terms[id(terms)] = (terms, total + car.min_da)
    demand: dict[int, int] = {}
    for terms, total in need_by_terms.values():
        for index, sign in terms:
            if sign > 0:
                demand[index] = demand.get(index, 0) + total
    headroom = network.headroom_da
    weight = {
        index: total / max(headroom[index], 1)
        for index, total in demand.items()
        if total > headroom[index]
    }
    sizes = {}
    scarce_by_terms: dict[int, float] = {}
    for car, terms in zip(wanting, smallest_terms, strict=True):
        scarce = scarce_by_terms.get(id(terms))
        if scarce is None:
            scarce = sum(weight.get(index, 0.0) for index, sign in terms if sign > 0)
            scarce_by_terms[id(terms)] = scarce
        phase_count = len(next(iter(car.footprints.values())))
        sizes[car.index] = (scarce * car.min_da, phase_count * car.min_da)
    return sizes
