"""Steps 3 and 4: pause one admitted car (or switch its phase mode) to admit more in its place,
within counted budgets; then let better-ranked paused cars swap in where they fit."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from heapq import merge
from itertools import islice

from balancing.engine import tuning
from balancing.engine.admission.greedy import fitting_mode, greedy
from balancing.engine.demand import CarDemand
from balancing.engine.network import Network, Terms


def improve(
    wanting: list[CarDemand],
    chosen: dict[int, int],
    network: Network,
    size: dict[int, tuple[float, int]],
) -> bool:
    """Step 3: pause one car to admit two or more, or switch one car's phase mode to admit one
    or more. True if anything changed."""
    trials_left = tuning.MAX_IMPROVEMENT_TRIALS
    improved = False
    # The freed room is what candidates compete for: smallest minimum first.
    order = {car.index: (car.min_da, size[car.index], car.rank) for car in wanting}
    # A car admitted on one phase makes room on the others under an imbalance limit, so
    # candidates may also be blocked by the imbalance pairs, not only by what the move frees.
    also_blocking = network.imbalance_pairs()
    while trials_left > 0:
        paused = [car for car in wanting if car.index not in chosen]
        # A previous move may have left room for cars that now simply fit.
        newly = greedy(paused, network)
        if newly:
            chosen.update(newly)
            improved = True
            paused = [car for car in paused if car.index not in newly]
        if not paused:
            return improved
        blocked_by: dict[frozenset[int], _Group] = {}
        for car in sorted(paused, key=lambda other: order[other.index]):
            terms = car.terms[min(car.footprints)]
            key = frozenset(network.blocking(terms, car.min_da))
            group = blocked_by.get(key)
            if group is None:
                group = blocked_by[key] = _Group([], [])
            group.cars.append(car)
            group.mins_da.append(car.min_da)
        blocking = frozenset().union(*blocked_by)

        moved = False
        # One pass over the moves; the blocking sets go stale after a success, which only
        # costs wasted trials: every trial checks the constraints exactly.
        moves = _moves(wanting, chosen)
        for car, old_mode, new_mode in moves[: tuning.MAX_MOVES_EXAMINED]:
            if chosen.get(car.index) != old_mode:
                continue
            old_terms = car.terms[old_mode]
            new_terms = () if new_mode is None else car.terms[new_mode]
            gain = _gain(old_terms, new_terms, car.min_da)
            if blocking.isdisjoint(gain):
                continue
            needed = 2 if new_mode is None else 1
            groups = _candidates(blocked_by, gain, also_blocking, needed, network)
            if not groups:
                continue
            # Each group is in `order` already; take the first few of them all.
            merged = merge(*groups, key=lambda other: order[other.index])
            fresh = (other for other in merged if other.index not in chosen)
            candidates = list(islice(fresh, tuning.MAX_CANDIDATES_PER_TRIAL))
            trials_left -= 1
            if _try_move(car, new_mode, candidates, needed, chosen, network):
                moved = improved = True
            if trials_left <= 0:
                break
        if not moved:
            return improved
    return improved


def _gain(old_terms: Terms, new_terms: Terms, amount_da: int) -> dict[int, int]:
    """Constraints that get more room when a car at `amount_da` goes from `old_terms` to
    `new_terms` (nothing: paused), and how much more."""
    new_sign = dict(new_terms)
    return {
        index: (sign - new_sign.get(index, 0)) * amount_da
        for index, sign in old_terms
        if sign > new_sign.get(index, 0)
    }


@dataclass(slots=True)
class _Group:
    """Paused cars blocked by the same constraints, smallest minimum first."""

    cars: list[CarDemand]
    mins_da: list[int]


def _candidates(
    blocked_by: dict[frozenset[int], _Group],
    gain: dict[int, int],
    also_blocking: frozenset[int],
    needed: int,
    network: Network,
) -> list[list[CarDemand]]:
    """Paused cars that the move could let in, in groups blocked alike, or [] when `needed` of
    them surely cannot fit.

    A car is a candidate when everything blocking it gets room from the move (or is an
    imbalance pair, which other newcomers may rebalance) and its minimum fits in that room.
    Cars blocked by the same constraints compete for it: when two are needed, the two smallest
    of a group, or of two groups sharing a constraint, must fit there together.
    """
    headroom = network.headroom_da
    reachable = gain.keys() | also_blocking
    fitting: list[tuple[frozenset[int], dict[int, int], _Group, int]] = []
    for key, group in blocked_by.items():
        freed = key & gain.keys()
        if not freed or not key <= reachable:
            continue
        room = {index: headroom[index] + gain[index] for index in freed}
        fit_count = bisect_right(group.mins_da, min(room.values()))
        if fit_count:
            fitting.append((freed, room, group, fit_count))
    if sum(fit_count for *_, fit_count in fitting) < needed:
        return []
    if needed == 2 and not _two_may_fit(fitting):
        return []
    return [group.cars[:fit_count] for _, _, group, fit_count in fitting]


def _two_may_fit(fitting: list[tuple[frozenset[int], dict[int, int], _Group, int]]) -> bool:
    """Whether some two candidates do not obviously overflow a constraint they share."""
    for first, (freed, room, group, fit_count) in enumerate(fitting):
        mins = group.mins_da
        if fit_count >= 2 and mins[0] + mins[1] <= min(room.values()):
            return True
        for other_freed, _, other, _ in fitting[first + 1 :]:
            shared = freed & other_freed
            if not shared or mins[0] + other.mins_da[0] <= min(room[index] for index in shared):
                return True
    return False


def _try_move(
    car: CarDemand,
    new_mode: int | None,
    candidates: list[CarDemand],
    needed: int,
    chosen: dict[int, int],
    network: Network,
) -> bool:
    """Pause `car` (`new_mode` None) or switch its mode, then admit at least `needed` of
    `candidates`; undo everything and return False if that does not work out."""
    old_terms = car.terms[chosen[car.index]]
    new_terms = () if new_mode is None else car.terms[new_mode]
    network.give_back(old_terms, car.min_da)
    network.take(new_terms, car.min_da)
    added: dict[int, int] = {}
    # The new mode must fit, and leaving can break an imbalance pair the car was balancing.
    if network.feasible(old_terms) and network.feasible(new_terms):
        added = greedy(candidates, network)
        if len(added) >= needed:
            if new_mode is None:
                del chosen[car.index]
            else:
                chosen[car.index] = new_mode
            chosen.update(added)
            return True
    by_index = {other.index: other for other in candidates}
    for index, mode in added.items():
        network.give_back(by_index[index].terms[mode], by_index[index].min_da)
    network.give_back(new_terms, car.min_da)
    network.take(old_terms, car.min_da)
    return False


def _moves(
    wanting: list[CarDemand], chosen: dict[int, int]
) -> list[tuple[CarDemand, int, int | None]]:
    """Moves worth trying, as (car, its mode now, new mode or None to pause): switching an
    admitted car to its other phase mode (it keeps charging, so these come first), then pausing
    one, the cars that free the most first. One car per kind (same constraints, same minimum),
    the worst-ranked of its kind."""
    # Terms tuples are shared by all cars alike, so their identity names the kind cheaply.
    seen: set[tuple[int, int, int | None]] = set()
    switches: list[tuple[CarDemand, int, int | None]] = []
    pauses: list[tuple[CarDemand, int, int | None]] = []
    for car in reversed(wanting):
        mode = chosen.get(car.index)
        if mode is None:
            continue
        modes = car.terms
        kind = id(modes[mode])
        for other_mode in modes:
            if other_mode != mode and (kind, car.min_da, other_mode) not in seen:
                seen.add((kind, car.min_da, other_mode))
                switches.append((car, mode, other_mode))
        if (kind, car.min_da, None) not in seen:
            seen.add((kind, car.min_da, None))
            pauses.append((car, mode, None))
    pauses.sort(key=lambda move: -move[0].min_da * len(move[0].footprints[move[1]]))
    return switches + pauses


def _positive(terms: Terms) -> frozenset[int]:
    return frozenset(index for index, sign in terms if sign > 0)


def swap_in_better_ranked(
    wanting: list[CarDemand], chosen: dict[int, int], network: Network
) -> None:
    """Step 4: a paused car takes the place of the worst-ranked admitted car below it in rank
    whose minimum frees what blocks it, when it then fits."""
    looks_left = tuning.MAX_SWAP_TRIALS * 20
    trials_left = tuning.MAX_SWAP_TRIALS
    for car in wanting:
        if car.index in chosen:
            continue
        blocked = frozenset(network.blocking(car.terms[min(car.footprints)], car.min_da))
        for other in reversed(wanting):
            looks_left -= 1
            if other.rank <= car.rank or looks_left <= 0:
                break
            mode = chosen.get(other.index)
            if mode is None or not blocked <= _positive(other.terms[mode]):
                continue
            trials_left -= 1
            other_terms = other.terms[mode]
            network.give_back(other_terms, other.min_da)
            new_mode = None
            if network.feasible(other_terms):
                new_mode = fitting_mode(car, network)
            if new_mode is not None:
                network.take(car.terms[new_mode], car.min_da)
                del chosen[other.index]
                chosen[car.index] = new_mode
                break
            network.take(other_terms, other.min_da)
            if trials_left <= 0:
                return
        if looks_left <= 0:
            return
