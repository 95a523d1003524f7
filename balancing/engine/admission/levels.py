"""The admission by priority level: steps 1-4 for each level (``greedy``, ``improve``), then
over all levels the exact search (``exact``), the switch back to 3 phases, and the priority lift
(steps 5 and 6 of the package's docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from balancing.engine import tuning
from balancing.engine.admission.exact import exact
from balancing.engine.admission.greedy import balanced_greedy, fitting_mode, greedy, sizes
from balancing.engine.admission.improve import improve, swap_in_better_ranked
from balancing.engine.demand import CarDemand
from balancing.engine.network import Network
from balancing.engine.units import floor_da

_SWITCH_UP_MARGIN_DA = floor_da(tuning.PHASE_SWITCH_UP_MARGIN_A)


def admit(cars: Sequence[CarDemand], network: Network) -> dict[int, int]:
    """Choose the cars that charge; returns car index -> phase mode, and takes their minimum
    from `network`. `cars` must be sorted by rank."""
    modes: dict[int, int] = {}
    before = list(network.headroom_da)
    for _, level in groupby(cars, key=lambda car: car.rank[0]):
        wanting = [car for car in level if car.wanting]
        if wanting:
            modes.update(_admit_level(wanting, network))
    # Under a phase-imbalance limit, cars admitted later (lower priority) may balance the phases
    # enough for a paused car of higher priority to fit after all.
    if network.imbalance_limited:
        modes.update(
            greedy([car for car in cars if car.wanting and car.index not in modes], network)
        )
    wanting = [car for car in cars if car.wanting]
    if len(modes) < len(wanting) <= tuning.EXACT_SEARCH_MAX_CARS:
        better = exact(wanting, before, modes, network)
        if better is not None:
            network.headroom_da = before
            by_index = {car.index: car for car in wanting}
            for index, mode in better.items():
                network.take(by_index[index].terms[mode], by_index[index].min_da)
            modes = better
    _switch_up(cars, modes, network)
    # After the switch up: a car back on 3 phases no longer loads an imbalance pair.
    if (
        len(modes) < len(wanting) <= tuning.BALANCED_GREEDY_MAX_CARS
        and len({car.rank[0] for car in wanting}) > 1
    ):
        _lift_priority(wanting, modes, network)
    return modes


def admit_spare(car: CarDemand, network: Network) -> int | None:
    """Admit `car` at its minimum if the room left fits it; returns its phase mode, or None.
    For finished cars, once every car that wants current has what it can take."""
    mode = fitting_mode(car, network)
    if mode is not None:
        network.take(car.terms[mode], car.min_da)
    return mode


def _admit_level(wanting: list[CarDemand], network: Network) -> dict[int, int]:
    before = list(network.headroom_da)
    chosen = greedy(wanting, network)
    if len(chosen) == len(wanting):
        return chosen
    by_rank_headroom = network.headroom_da
    network.headroom_da = list(before)
    size = sizes(wanting, network)
    by_size = greedy(sorted(wanting, key=lambda car: (size[car.index], car.rank)), network)
    reordered = len(by_size) > len(chosen)
    if reordered:
        chosen = by_size
    else:
        network.headroom_da = by_rank_headroom
    if network.imbalance_limited and len(wanting) <= tuning.BALANCED_GREEDY_MAX_CARS:
        kept = network.headroom_da
        network.headroom_da = list(before)
        balanced = balanced_greedy(wanting, network)
        if len(balanced) > len(chosen):
            chosen = balanced
            reordered = True
        else:
            network.headroom_da = kept
    improved = improve(wanting, chosen, network, size)
    if reordered or improved:
        swap_in_better_ranked(wanting, chosen, network)
        # A swap can leave room for a small car that did not fit before.
        chosen.update(greedy([car for car in wanting if car.index not in chosen], network))
    return chosen


def _lift_priority(wanting: list[CarDemand], modes: dict[int, int], network: Network) -> None:
    """Strict priority where the exact search does not reach (sites with more wanting cars, or
    a search cut short): a paused car takes the place of a served car of lower priority, the
    worst-ranked first, whenever it then fits (every constraint checked: pausing a car can break
    an imbalance pair it balanced), or simply joins if it fits. Each such move serves one more
    car of a higher priority for one fewer of a lower one: better, lexicographically."""
    for car in wanting:
        if car.index in modes:
            continue
        mode = fitting_mode(car, network)
        if mode is not None:
            network.take(car.terms[mode], car.min_da)
            modes[car.index] = mode
            continue
        for other in reversed(wanting):
            if other.rank[0] <= car.rank[0]:
                break
            other_mode = modes.get(other.index)
            if other_mode is None:
                continue
            other_terms = other.terms[other_mode]
            network.give_back(other_terms, other.min_da)
            for mode, terms in car.terms.items():
                # Checked once the car is in: it may balance the pair the other car balanced.
                network.take(terms, car.min_da)
                if network.feasible(terms) and network.feasible(other_terms):
                    del modes[other.index]
                    modes[car.index] = mode
                    break
                network.give_back(terms, car.min_da)
            if car.index in modes:
                break
            network.take(other_terms, other.min_da)


def _switch_up(cars: Sequence[CarDemand], modes: dict[int, int], network: Network) -> None:
    """Put cars admitted on 1 phase back on 3 where that fits with everyone at their minimum."""
    for car in cars:
        if modes.get(car.index) != 1 or 3 not in car.footprints:
            continue
        one, three = car.terms[1], car.terms[3]
        network.give_back(one, car.min_da)
        need_da = car.min_da + (_SWITCH_UP_MARGIN_DA if car.charger.active_phases == 1 else 0)
        if network.feasible(one) and network.fits(three, need_da):
            network.take(three, car.min_da)
            modes[car.index] = 3
        else:
            network.take(one, car.min_da)
