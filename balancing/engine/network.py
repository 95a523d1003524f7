"""The fuse tree and the phase-imbalance limit as one table of linear constraints (rule 1).

Constraint ``3 * f + p`` is "fuse f, phase p": the current of the cars below fuse f on phase p
must fit in the fuse's limit minus its base load minus the failsafe reservations of offline
chargers below it. With ``max_phase_imbalance`` set, six more constraints bound "phase p minus
phase q" of the chargers' combined draw at the main fuse, one per ordered pair (p, q).

A car in a given phase mode touches a fixed list of constraints, its `Terms`: coefficient +1 on
each phase of each fuse from its own up to the main one, +1 on pair (p, q) when it loads p but
not q, -1 when it loads q but not p. Everything the solver does is then "does this car fit at
this current" on `headroom_da`, in whole deci-amperes, which makes the safety check exact.

Every car is accounted at its worst case: its limit on every phase it may draw on (see
`balancing.engine.demand` for which phases those are). Offline chargers with a car connected are
reserved at the failsafe current on all of their charger's phases, whatever the car, because
nobody can tell them anything until they are back.

A fuse phase already over its limit before any car (base load plus offline reservations) gets
room 0: nothing more is given on that phase under that fuse, so every car that may draw on it
is paused, while cars on the fuse's other phases (a 1-phase car on L1 when L2 is over, a car
switched to 1 phase) are balanced on what their own phases allow.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from balancing.engine.model import PHASE_COUNT, Charger, Fuse, Scenario
from balancing.engine.units import PHASE_NAMES, ceil_da, floor_da, format_da

Terms = tuple[tuple[int, int], ...]

IMBALANCE_PAIRS = tuple(
    (high, low) for high in range(PHASE_COUNT) for low in range(PHASE_COUNT) if high != low
)


@dataclass(slots=True)
class Network:
    """Remaining capacity of every constraint, updated as cars are given current."""

    fuse_ids: list[str]
    # Fuse id -> indices of that fuse and all its ancestors, its own first.
    paths: dict[str, tuple[int, ...]]
    labels: list[str]
    headroom_da: list[int]
    # Fuse phase constraints already over their limit before any car (base load plus offline
    # reservations); their room is 0.
    overloaded: frozenset[int]
    notes: list[str]
    imbalance_limited: bool = False
    _terms_cache: dict[tuple[str, tuple[int, ...]], Terms] = field(default_factory=dict)
    _modes_cache: dict[tuple[str, tuple[tuple[int, tuple[int, ...]], ...]], dict[int, Terms]] = (
        field(default_factory=dict)
    )

    def terms(self, fuse_id: str, footprint: tuple[int, ...]) -> Terms:
        """The constraints a car below `fuse_id` loading `footprint` touches."""
        key = (fuse_id, footprint)
        cached = self._terms_cache.get(key)
        if cached is not None:
            return cached
        terms = [
            (PHASE_COUNT * fuse + phase, 1)
            for fuse in self.paths[fuse_id]
            for phase in sorted(footprint)
        ]
        if self.imbalance_limited:
            offset = PHASE_COUNT * len(self.fuse_ids)
            for pair, (high, low) in enumerate(IMBALANCE_PAIRS):
                coefficient = (high in footprint) - (low in footprint)
                if coefficient:
                    terms.append((offset + pair, coefficient))
        result = tuple(terms)
        self._terms_cache[key] = result
        return result

    def terms_by_mode(
        self, fuse_id: str, footprints: dict[int, tuple[int, ...]]
    ) -> dict[int, Terms]:
        """`terms` for each phase mode of a car; shared between cars alike, never mutate it."""
        key = (fuse_id, tuple(footprints.items()))
        cached = self._modes_cache.get(key)
        if cached is None:
            cached = {
                mode: self.terms(fuse_id, footprint) for mode, footprint in footprints.items()
            }
            self._modes_cache[key] = cached
        return cached

    def imbalance_pairs(self) -> frozenset[int]:
        """Indices of the phase-imbalance constraints (empty without a limit)."""
        offset = PHASE_COUNT * len(self.fuse_ids)
        return frozenset(range(offset, len(self.headroom_da)))

    def fits(self, terms: Terms, amount_da: int) -> bool:
        """Whether `amount_da` more on these terms keeps every constraint."""
        headroom = self.headroom_da
        # The hottest loop of the solver: an explicit loop is about twice as fast as all().
        for index, sign in terms:  # noqa: SIM110
            if headroom[index] < sign * amount_da:
                return False
        return True

    def take(self, terms: Terms, amount_da: int) -> None:
        headroom = self.headroom_da
        for index, sign in terms:
            headroom[index] -= sign * amount_da

    def give_back(self, terms: Terms, amount_da: int) -> None:
        headroom = self.headroom_da
        for index, sign in terms:
            headroom[index] += sign * amount_da

    def feasible(self, terms: Terms) -> bool:
        """Whether every constraint among `terms` is kept right now."""
        headroom = self.headroom_da
        return all(headroom[index] >= 0 for index, _ in terms)

    def blocking(self, terms: Terms, amount_da: int) -> list[int]:
        """Constraints that do not have `amount_da` left, own fuse first."""
        headroom = self.headroom_da
        return [index for index, sign in terms if headroom[index] < sign * amount_da]

    def describe(self, index: int, amount_da: int) -> str:
        """Why `amount_da` more does not fit in constraint `index`, in words."""
        fuse, phase = divmod(index, PHASE_COUNT)
        if index in self.overloaded:
            return (
                f"{self.fuse_ids[fuse]} is overloaded before any car is served on "
                f"{PHASE_NAMES[phase]}, a phase it may draw on"
            )
        if fuse < len(self.fuse_ids):
            return (
                f"{self.fuse_ids[fuse]} cannot give every car {format_da(amount_da)} "
                f"({PHASE_NAMES[phase]} full)"
            )
        high, low = IMBALANCE_PAIRS[index - PHASE_COUNT * len(self.fuse_ids)]
        return (
            f"{format_da(amount_da)} more on {PHASE_NAMES[high]} than on {PHASE_NAMES[low]} "
            f"would exceed the phase imbalance limit at {self.fuse_ids[0]}"
        )


def build_network(scenario: Scenario) -> Network:
    """Constraints with their capacity left after base loads and offline reservations."""
    fuses = _topological(scenario)
    index_of = {fuse.id: index for index, fuse in enumerate(fuses)}
    parent_of = {fuse.id: fuse.parent for fuse in fuses}
    paths = {}
    for fuse in fuses:
        path = []
        current: str | None = fuse.id
        while current is not None:
            path.append(index_of[current])
            current = parent_of[current]
        paths[fuse.id] = tuple(path)

    headroom = [
        floor_da(fuse.limit_a[phase]) - ceil_da(fuse.base_load_a[phase])
        for fuse in fuses
        for phase in range(PHASE_COUNT)
    ]
    labels = [f"{fuse.id} {PHASE_NAMES[phase]}" for fuse in fuses for phase in range(PHASE_COUNT)]
    reserved_da = [0] * PHASE_COUNT
    for charger in sorted(scenario.chargers, key=lambda item: item.id):
        if charger.online or not charger.car_connected:
            continue
        failsafe_da = ceil_da(scenario.installation.failsafe_current_a)
        for phase in _charger_phases(charger):
            reserved_da[phase] += failsafe_da
            for fuse_index in paths[charger.fuse]:
                headroom[PHASE_COUNT * fuse_index + phase] -= failsafe_da

    notes = []
    overloaded = set()
    for index, fuse in enumerate(fuses):
        short = [phase for phase in range(PHASE_COUNT) if headroom[PHASE_COUNT * index + phase] < 0]
        if short:
            worst = min(short, key=lambda phase: headroom[PHASE_COUNT * index + phase])
            names = ", ".join(PHASE_NAMES[phase] for phase in short)
            notes.append(
                f"{fuse.id} is overloaded before any car is served ({names}: base load and "
                f"offline chargers exceed the limit by "
                f"{format_da(-headroom[PHASE_COUNT * index + worst])}): nothing more is given "
                f"on {names} under {fuse.id}, cars on its other phases charge as usual"
            )
            for phase in short:
                overloaded.add(PHASE_COUNT * index + phase)
                headroom[PHASE_COUNT * index + phase] = 0

    network = Network(
        fuse_ids=[fuse.id for fuse in fuses],
        paths=paths,
        labels=labels,
        headroom_da=headroom,
        overloaded=frozenset(overloaded),
        notes=notes,
    )
    imbalance_a = scenario.installation.max_phase_imbalance_a
    if imbalance_a is not None:
        _add_imbalance_limit(network, floor_da(imbalance_a), reserved_da, fuses[0].id)
    return network


def _add_imbalance_limit(
    network: Network, limit_da: int, reserved_da: list[int], main_fuse: str
) -> None:
    """Six pair constraints; offline reservations may already break one, then it may not grow."""
    network.imbalance_limited = True
    for high, low in IMBALANCE_PAIRS:
        already_da = reserved_da[high] - reserved_da[low]
        network.headroom_da.append(max(limit_da - already_da, 0))
        network.labels.append(f"{main_fuse} phase imbalance {PHASE_NAMES[high]}-{PHASE_NAMES[low]}")
        if already_da > limit_da:
            network.notes.append(
                f"offline chargers alone put {format_da(already_da)} more on "
                f"{PHASE_NAMES[high]} than on {PHASE_NAMES[low]}, above the "
                f"{format_da(limit_da)} imbalance limit: nothing more is given on "
                f"{PHASE_NAMES[high]} alone"
            )


def _charger_phases(charger: Charger) -> tuple[int, ...]:
    return charger.rotation[: charger.phases]


def _topological(scenario: Scenario) -> list[Fuse]:
    """Fuses parents first, siblings by id, so indices never depend on the input order."""
    children: dict[str | None, list[Fuse]] = {}
    for fuse in scenario.fuses:
        children.setdefault(fuse.parent, []).append(fuse)
    ordered = []
    pending = deque(sorted(children.get(None, []), key=lambda fuse: fuse.id))
    while pending:
        fuse = pending.popleft()
        ordered.append(fuse)
        pending.extend(sorted(children.get(fuse.id, []), key=lambda item: item.id))
    return ordered
