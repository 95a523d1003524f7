"""Rules 3 and 4: share what is left after every admitted car has its minimum, max-min fairly.

Water-filling by progressive filling: a water level t rises from the lowest minimum; every car
below the level and still free is at the level (``max(minimum, t)``). A car stops (freezes) when
the level reaches its cap (its max_current, or its draw plus a margin when it draws clearly
less, see `balancing.engine.demand`), or when a constraint it loads runs out: then every car still
rising through that constraint stops, because none of them can get more without taking from the
others. This is the max-min fair allocation: no car can get more without taking from a car that
has less.

It runs on events (a car joins, a car hits its cap, a constraint fills up) with a heap, in whole
deci-amperes, so a depot of thousands of cars costs a few thousand events, not a sweep of levels.

The phase-imbalance limit is the one constraint where a car can *create* room: a 1-phase car on
L2 makes room for more on L1 under "L1 minus L2". Cars stopped by such a constraint may rise again
once the other side has risen, so with an imbalance limit the filling repeats from where it
stopped, at most `tuning.MAX_FILL_ROUNDS` times. Finally `top_up` hands out the tenths of an
ampere that integer division left over, so no current stays unused while a car could take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from heapq import heappop, heappush

from balancing.engine import tuning
from balancing.engine.network import Network, Terms


@dataclass(slots=True)
class FillItem:
    """One admitted car in the filling: where it starts, where it must stop, what it loads.
    Never changed once built (not frozen for the same reason as `demand.CarDemand`)."""

    index: int
    start_da: int
    cap_da: int
    terms: Terms


def water_fill(items: list[FillItem], network: Network) -> dict[int, int]:
    """Max-min fair currents for `items`; takes the increase above their start from `network`."""
    levels = {item.index: item.start_da for item in items}
    rounds = tuning.MAX_FILL_ROUNDS if network.imbalance_limited else 1
    for _ in range(rounds):
        pending = [item for item in items if levels[item.index] < item.cap_da]
        raised = _progressive_fill(pending, levels, network.headroom_da)
        changed = False
        for item, level_da in zip(pending, raised, strict=True):
            increase_da = level_da - levels[item.index]
            if increase_da:
                network.take(item.terms, increase_da)
                levels[item.index] = level_da
                changed = True
        if not changed:
            break
    return levels


def top_up(items: list[FillItem], levels: dict[int, int], network: Network) -> bool:
    """Hand out what the filling left, lowest current first: first 0.1 A per car (what integer
    division leaves is less than 0.1 A per car sharing a constraint), then anything else.
    Returns whether anything was given."""
    headroom = network.headroom_da
    given = False
    ordered = sorted(items, key=lambda entry: levels[entry.index])
    for step_limit_da in (1, None):
        for item in ordered:
            room_da = item.cap_da - levels[item.index]
            if step_limit_da is not None:
                room_da = min(room_da, step_limit_da)
            for index, sign in item.terms:
                if sign > 0 and headroom[index] < room_da:
                    room_da = headroom[index]
            if room_da > 0:
                network.take(item.terms, room_da)
                levels[item.index] += room_da
                given = True
    return given


def _progressive_fill(
    items: list[FillItem], start_of: dict[int, int], headroom: list[int]
) -> list[int]:
    """The level each item reaches from `start_of[item.index]`; `headroom` is read only."""
    if not items:
        return []
    count = len(items)
    level = [start_of[item.index] for item in items]
    rising = [False] * count
    # Per constraint: sum of the signs of the rising cars (how fast its slack shrinks), slack at
    # time `since`, a version to invalidate stale heap entries, and its rising +1 cars.
    rate: dict[int, int] = {}
    slack: dict[int, int] = {}
    since: dict[int, int] = {}
    version: dict[int, int] = {}
    rising_through: dict[int, dict[int, None]] = {}
    start = min(level)
    for item in items:
        for index, _ in item.terms:
            if index not in rate:
                rate[index] = 0
                slack[index] = headroom[index]
                since[index] = start
                version[index] = 0
                rising_through[index] = {}
    binds: list[tuple[int, int, int]] = []
    caps: list[tuple[int, int]] = []

    def change_rate(index: int, delta: int, now: int) -> None:
        slack[index] -= rate[index] * (now - since[index])
        since[index] = now
        rate[index] += delta
        version[index] += 1
        if rate[index] > 0:
            heappush(binds, (now + slack[index] // rate[index], index, version[index]))

    def join(car: int, now: int) -> None:
        item = items[car]
        if item.cap_da <= now:
            return
        for index, sign in item.terms:
            # Not even one more 0.1 A step for everyone rising here: this car stays put.
            if sign > 0 and (
                slack[index] - rate[index] * (now - since[index]) < rate[index] + sign
            ):
                return
        rising[car] = True
        for index, sign in item.terms:
            change_rate(index, sign, now)
            if sign > 0:
                rising_through[index][car] = None
        heappush(caps, (item.cap_da, car))

    def freeze(car: int, now: int) -> None:
        rising[car] = False
        level[car] = now
        for index, sign in items[car].terms:
            change_rate(index, -sign, now)
            if sign > 0:
                del rising_through[index][car]

    order = sorted(range(count), key=lambda car: level[car])
    joined = 0
    now = start
    while True:
        while joined < count and level[order[joined]] <= now:
            join(order[joined], now)
            joined += 1
        fired = True
        while fired:
            fired = False
            while caps and caps[0][0] <= now:
                car = heappop(caps)[1]
                if rising[car]:
                    freeze(car, now)
                    fired = True
            # Every constraint that fills up now stops its cars together: freezing the cars of
            # one first would leave the next one's last tenths to its other cars alone.
            full = []
            while binds and binds[0][0] <= now:
                _, index, stamp = heappop(binds)
                if stamp == version[index]:
                    full.append(index)
            for index in full:
                for car in list(rising_through[index]):
                    if rising[car]:
                        freeze(car, now)
                fired = True
        while caps and not rising[caps[0][1]]:
            heappop(caps)
        while binds and binds[0][2] != version[binds[0][1]]:
            heappop(binds)
        upcoming = []
        if joined < count:
            upcoming.append(level[order[joined]])
        if caps:
            upcoming.append(caps[0][0])
        if binds:
            upcoming.append(binds[0][0])
        if not upcoming:
            break
        now = min(upcoming)
    return level


def level_out(
    items: list[FillItem], levels: dict[int, int], priority: dict[int, int], network: Network
) -> bool:
    """Move single tenths of an ampere from a car that has more to one that has less, where
    the first one's tenth is what the second one lacks, until none can move (at most
    `tuning.MAX_LEVEL_OUT_MOVES`). Returns whether anything moved.

    Water-filling in whole tenths stops cars at the tenth below their fair level; where such a
    car shares one fuse with a car that rose on through another, the fractions it left go to
    that car (6.6, 6.6, 6.6 A and 8.3 A where 6.67 A and 8.1 A are fair). A move is made only
    when it makes the split fairer: to a car of higher priority, or of the same priority with
    at least 0.2 A less; every constraint is checked exactly. Meant for small sites (a move
    looks at every pair of cars).
    """
    headroom = network.headroom_da
    moved = False
    for _ in range(tuning.MAX_LEVEL_OUT_MOVES):
        ordered = sorted(items, key=lambda item: (-priority[item.index], levels[item.index]))
        if not _level_out_once(ordered, levels, priority, network, headroom):
            return moved
        moved = True
    return moved


def _level_out_once(
    ordered: list[FillItem],
    levels: dict[int, int],
    priority: dict[int, int],
    network: Network,
    headroom: list[int],
) -> bool:
    for low in ordered:
        low_level = levels[low.index]
        if low_level >= low.cap_da:
            continue
        full = {index for index, sign in low.terms if sign > 0 and headroom[index] < sign}
        if not full:
            continue
        for high in reversed(ordered):
            if high is low:
                break
            high_level = levels[high.index]
            if high_level <= high.start_da:
                continue
            same = priority[high.index] == priority[low.index]
            if (same and high_level < low_level + 2) or priority[high.index] > priority[low.index]:
                continue
            if full.isdisjoint(index for index, sign in high.terms if sign > 0):
                continue
            network.give_back(high.terms, 1)
            if network.feasible(high.terms) and network.fits(low.terms, 1):
                network.take(low.terms, 1)
                levels[high.index] -= 1
                levels[low.index] += 1
                return True
            network.take(high.terms, 1)
    return False
