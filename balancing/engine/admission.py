"""Rule 2: which cars charge (at least their minimum) and which are paused.

Priorities are handled one level at a time, highest first, each level seeing only the cars above
it: a car is paused only if it could not charge even with every lower-priority car paused.
Priority is strict: the count of cars served is maximised level by level, lexicographically.
Within a level the goal is to pause the fewest cars, which is a multi-dimensional knapsack (three
phases times every fuse on the way up), so the level is solved in four bounded steps:

1. **Greedy by rank** (least energy received first, see `balancing.engine.demand`): admit each car at
   its minimum if it fits.
2. **Greedy by size** (what the car takes from oversubscribed constraints): the classic
   count-maximising order for knapsacks. Kept only if it admits more cars than step 1. Under
   an imbalance limit also a greedy that spreads the cars over the phases (`_balanced_greedy`),
   kept only if it admits more than both.
3. **Improvement**: pause one admitted car and admit two or more paused cars in its place, e.g.
   one 3-phase car out, three 1-phase cars on three different phases in; or switch one car's
   phase mode (under an imbalance limit 3 phases can leave more room than 1) and admit one or
   more. Candidates are limited to paused cars blocked only by constraints that the move frees
   and whose minimum fits in what it frees; the search is bounded by counts, never by the clock
   (`tuning.MAX_MOVES_EXAMINED`, `MAX_IMPROVEMENT_TRIALS`, `MAX_CANDIDATES_PER_TRIAL`), so the
   result is reproducible.
4. **Swaps**: a paused car ranked better than an admitted one replaces it when it fits in its
   place, so that steps 2 and 3 do not undo the tie-breaks (energy, then arrival) of rule 2.
5. **Exact search**, on sites of at most `tuning.EXACT_SEARCH_MAX_CARS` cars wanting current
   where a car is still paused: branch and bound over all levels at once for strictly more cars
   served, lexicographically by priority (see `_exact`). Steps 1-4 settle each level on its
   own, so they cannot see that the choice among equally many higher-priority cars decides how
   many lower-priority cars fit, nor moves deeper than one car; this step can, within
   `tuning.EXACT_SEARCH_MAX_NODES`.
6. **Priority lift**, on sites of at most `tuning.BALANCED_GREEDY_MAX_CARS` wanting cars with
   several priorities: a paused car takes a served lower-priority car's place wherever it
   then fits (`_lift_priority`), for sites the exact search does not settle.

Chargers that can switch phases are admitted on 1 phase, which takes the least room: the count
of cars comes first. Once every level is settled they go back to 3 phases, in rank order,
wherever that still fits with every admitted car at its minimum (with
`tuning.PHASE_SWITCH_UP_MARGIN_A` to spare for a charger that is on 1 phase now, so the mode
does not flap). Finished cars are not admitted here: see `admit_spare`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from heapq import merge
from itertools import groupby, islice

from balancing.engine import tuning
from balancing.engine.demand import CarDemand
from balancing.engine.network import Network, Terms
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
            _greedy([car for car in cars if car.wanting and car.index not in modes], network)
        )
    wanting = [car for car in cars if car.wanting]
    if len(modes) < len(wanting) <= tuning.EXACT_SEARCH_MAX_CARS:
        better = _exact(wanting, before, modes, network)
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


def _lift_priority(wanting: list[CarDemand], modes: dict[int, int], network: Network) -> None:
    """Strict priority where the exact search does not reach (sites with more wanting cars, or
    a search cut short): a paused car takes the place of a served car of lower priority, the
    worst-ranked first, whenever it then fits (every constraint checked: pausing a car can break
    an imbalance pair it balanced), or simply joins if it fits. Each such move serves one more
    car of a higher priority for one fewer of a lower one: better, lexicographically."""
    for car in wanting:
        if car.index in modes:
            continue
        mode = _fitting_mode(car, network)
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


def _exact(
    wanting: list[CarDemand], room: list[int], found: dict[int, int], network: Network
) -> dict[int, int] | None:
    """Step 5, on sites small enough: an exact branch-and-bound search for more cars served,
    counted lexicographically by priority (every car of a level outweighs any number of cars
    below it). `room` is the headroom before any car; `found` is the admission of steps 1-4.
    Returns a strictly better admission (car index -> mode), or None when `found` is optimal
    or the search ran out of its node budget (`tuning.EXACT_SEARCH_MAX_NODES`) without finding
    better, or with only a better one that serves fewer cars in all (not proven optimal, it
    could trade many lower-priority cars for one).

    Cars are decided in rank order, each first admitted (smallest phase mode first) and then
    paused, so of the admissions serving the most cars the first found, the one kept, serves
    the best-ranked cars. A branch is cut when even every undecided car that fits on the fuse
    phases by itself could not beat the best count. Imbalance pairs, where a later car can
    make room, are only required to be within what the undecided cars could still give back.
    """
    levels = sorted({car.rank[0] for car in wanting})
    level_of = {level: number for number, level in enumerate(levels)}
    count = len(wanting)
    car_level = [level_of[car.rank[0]] for car in wanting]
    pairs = network.imbalance_pairs()
    options: list[list[tuple[int, Terms, Terms]]] = []
    # What each car could give back to each imbalance pair at most (it may be paused: >= 0).
    give: list[dict[int, int]] = []
    for car in wanting:
        car_options = []
        gift: dict[int, int] = {}
        for mode, terms in car.terms.items():
            fuse_terms = tuple((index, sign) for index, sign in terms if index not in pairs)
            pair_terms = tuple((index, sign) for index, sign in terms if index in pairs)
            car_options.append((mode, fuse_terms, pair_terms))
            for index, sign in pair_terms:
                if sign < 0:
                    gift[index] = max(gift.get(index, 0), -sign * car.min_da)
        options.append(car_options)
        give.append(gift)
    potential = [0] * len(room)
    for gift in give:
        for index, amount in gift.items():
            potential[index] += amount

    def score(chosen: dict[int, int]) -> list[int]:
        counts = [0] * len(levels)
        for position, car in enumerate(wanting):
            if car.index in chosen:
                counts[car_level[position]] += 1
        return counts

    best = score(found)
    best_choice: dict[int, int] | None = None
    headroom = list(room)
    counts = [0] * len(levels)
    choice: dict[int, int] = {}
    nodes_left = tuning.EXACT_SEARCH_MAX_NODES

    def promising(depth: int) -> bool:
        bound = list(counts)
        for position in range(depth, count):
            amount = wanting[position].min_da
            for _, fuse_terms, _ in options[position]:
                for index, _ in fuse_terms:
                    if headroom[index] < amount:
                        break
                else:
                    bound[car_level[position]] += 1
                    break
        return bound > best

    def search(depth: int) -> None:
        nonlocal best, best_choice, nodes_left
        nodes_left -= 1
        if nodes_left < 0:
            return
        if depth == count:
            if counts > best and all(headroom[index] >= 0 for index in pairs):
                best = list(counts)
                best_choice = dict(choice)
            return
        if not promising(depth):
            return
        car = wanting[depth]
        amount = car.min_da
        for index, gift in give[depth].items():
            potential[index] -= gift
        for mode, fuse_terms, pair_terms in options[depth]:
            if any(headroom[index] < amount for index, _ in fuse_terms):
                continue
            if any(
                headroom[index] - sign * amount + potential[index] < 0 for index, sign in pair_terms
            ):
                continue
            for index, sign in fuse_terms + pair_terms:
                headroom[index] -= sign * amount
            counts[car_level[depth]] += 1
            choice[car.index] = mode
            search(depth + 1)
            del choice[car.index]
            counts[car_level[depth]] -= 1
            for index, sign in fuse_terms + pair_terms:
                headroom[index] += sign * amount
        if all(headroom[index] + potential[index] >= 0 for index in give[depth]):
            search(depth + 1)
        for index, gift in give[depth].items():
            potential[index] += gift

    search(0)
    if best_choice is not None and nodes_left < 0 and len(best_choice) < len(found):
        # Cut short: more higher-priority cars but fewer cars in all is not proven better than
        # what steps 1-4 found; keep theirs.
        return None
    return best_choice


def admit_spare(car: CarDemand, network: Network) -> int | None:
    """Admit `car` at its minimum if the room left fits it; returns its phase mode, or None.
    For finished cars, once every car that wants current has what it can take."""
    mode = _fitting_mode(car, network)
    if mode is not None:
        network.take(car.terms[mode], car.min_da)
    return mode


def _admit_level(wanting: list[CarDemand], network: Network) -> dict[int, int]:
    before = list(network.headroom_da)
    chosen = _greedy(wanting, network)
    if len(chosen) == len(wanting):
        return chosen
    by_rank_headroom = network.headroom_da
    network.headroom_da = list(before)
    size = _sizes(wanting, network)
    by_size = _greedy(sorted(wanting, key=lambda car: (size[car.index], car.rank)), network)
    reordered = len(by_size) > len(chosen)
    if reordered:
        chosen = by_size
    else:
        network.headroom_da = by_rank_headroom
    if network.imbalance_limited and len(wanting) <= tuning.BALANCED_GREEDY_MAX_CARS:
        kept = network.headroom_da
        network.headroom_da = list(before)
        balanced = _balanced_greedy(wanting, network)
        if len(balanced) > len(chosen):
            chosen = balanced
            reordered = True
        else:
            network.headroom_da = kept
    improved = _improve(wanting, chosen, network, size)
    if reordered or improved:
        _swap_in_better_ranked(wanting, chosen, network)
        # A swap can leave room for a small car that did not fit before.
        chosen.update(_greedy([car for car in wanting if car.index not in chosen], network))
    return chosen


def _balanced_greedy(wanting: list[CarDemand], network: Network) -> dict[int, int]:
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


def _greedy(order: Iterable[CarDemand], network: Network) -> dict[int, int]:
    """Admit each car of `order` in turn where it fits; returns index -> mode of those admitted.

    `_fitting_mode` and `Network.take`, inlined: this loop runs over every car several times
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


def _fitting_mode(car: CarDemand, network: Network) -> int | None:
    """The smallest phase mode in which the car fits at its minimum, or None. (3 phases can fit
    where 1 does not only under an imbalance limit, which a 3-phase car does not touch.)"""
    for mode, mode_terms in car.terms.items():
        if network.fits(mode_terms, car.min_da):
            return mode
    return None


def _sizes(wanting: list[CarDemand], network: Network) -> dict[int, tuple[float, int]]:
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


def _positive(terms: Terms) -> frozenset[int]:
    return frozenset(index for index, sign in terms if sign > 0)


def _improve(
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
        newly = _greedy(paused, network)
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
        added = _greedy(candidates, network)
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


def _swap_in_better_ranked(
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
                new_mode = _fitting_mode(car, network)
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
