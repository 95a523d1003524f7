"""Step 5: an exact branch-and-bound search for more cars served, lexicographically by
priority, on sites small enough (``tuning.EXACT_SEARCH_MAX_CARS``)."""

from __future__ import annotations

from balancing.engine import tuning
from balancing.engine.demand import CarDemand
from balancing.engine.network import Network, Terms


def exact(
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
