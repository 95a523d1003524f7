"""Can the fuses carry every charger at its failsafe current at once?

A charger that loses its connection falls back to the installation's failsafe current by itself,
and the balancing loop cannot lower it any more. If the whole site went offline (the internet
connection is gone), every charger with a car would draw that current at once, so the fuse tree
must carry it: worst case, every connector of every charger at the failsafe current (the failsafe
profile is a default for each connector), at most the charger's max current, on each of its
phases. Installation, circuit and charger validation call ``failsafe_problem`` with the value
being changed, so a setting that breaks this is refused with the numbers and the way out.

The arithmetic is pure (``worst_case_loads``, ``largest_safe_failsafe``); ``failsafe_problem``
reads the installation's tree from the database and applies the edit being validated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chargers.models import Charger
    from installations.models import Circuit, Installation

PHASE_NAMES = ("L1", "L2", "L3")
STEP_A = 0.1  # the resolution of a charging profile limit


@dataclass(frozen=True)
class FuseNode:
    id: int
    parent_id: int | None
    name: str
    limit_a: float


@dataclass(frozen=True)
class ChargerNode:
    id: int
    fuse_id: int
    phases: int
    rotation: str  # "L1L2L3", "L2L3L1", ...
    max_current_a: float
    connectors: int = 1

    def failsafe_draw_a(self, failsafe_a: float) -> float:
        """Per phase, with a car on every connector at the failsafe current."""
        return min(failsafe_a * max(1, self.connectors), self.max_current_a)

    def installation_phases(self) -> list[int]:
        """Indexes (0-2) of the installation phases this charger draws on."""
        wired = [int(self.rotation[i + 1]) - 1 for i in range(0, 6, 2)]
        return wired[: self.phases]


@dataclass(frozen=True)
class Overload:
    fuse: FuseNode
    phase: int  # 0-2
    load_a: float


def worst_case_loads(
    fuses: Iterable[FuseNode], chargers: Iterable[ChargerNode], failsafe_a: float
) -> dict[int, list[float]]:
    """Per fuse, per installation phase: every charger below it at its failsafe current."""
    fuses = list(fuses)
    parents = {fuse.id: fuse.parent_id for fuse in fuses}
    loads = {fuse.id: [0.0, 0.0, 0.0] for fuse in fuses}
    for charger in chargers:
        draw = charger.failsafe_draw_a(failsafe_a)
        node: int | None = charger.fuse_id
        hops = 0
        while node is not None and node in loads and hops <= len(fuses):
            for phase in charger.installation_phases():
                loads[node][phase] += draw
            node = parents.get(node)
            hops += 1
    return loads


def overloads(
    fuses: Iterable[FuseNode], chargers: Iterable[ChargerNode], failsafe_a: float
) -> list[Overload]:
    """Every fuse phase the worst case would overload, the worst first."""
    fuses = list(fuses)
    loads = worst_case_loads(fuses, chargers, failsafe_a)
    found = [
        Overload(fuse, phase, load)
        for fuse in fuses
        for phase, load in enumerate(loads[fuse.id])
        if load > fuse.limit_a + 1e-9
    ]
    return sorted(found, key=lambda item: (item.fuse.limit_a - item.load_a, item.fuse.id))


def largest_safe_failsafe(fuses: Iterable[FuseNode], chargers: Iterable[ChargerNode]) -> float:
    """The highest failsafe current (in 0.1 A steps) the fuse tree carries with every charger
    offline; the load only grows with the failsafe current, so a bisection finds it."""
    fuses, chargers = list(fuses), list(chargers)
    low, high = 0, 800  # deci-amperes; the model allows at most 80 A
    while low < high:
        middle = (low + high + 1) // 2
        if overloads(fuses, chargers, middle * STEP_A):
            high = middle - 1
        else:
            low = middle
    return round(low * STEP_A, 1)


def failsafe_problem(
    installation: Installation,
    *,
    failsafe_a: float | None = None,
    circuit: Circuit | None = None,
    charger: Charger | None = None,
) -> str | None:
    """Why the failsafe current would overload a fuse, or None when it is safe.

    ``failsafe_a``, ``circuit`` or ``charger`` are the unsaved values being validated; they
    replace (or join) what the database holds.
    """
    from django.db.models import Count

    from chargers.models import Charger
    from installations.models import Circuit

    failsafe = installation.failsafe_current_a if failsafe_a is None else failsafe_a
    if not failsafe or installation.pk is None:
        return None
    fuses = {
        row.pk: FuseNode(row.pk, row.parent_id, row.name, row.max_current_a)
        for row in Circuit.objects.filter(installation_id=installation.pk)
    }
    if circuit is not None and circuit.pk in fuses:
        fuses[circuit.pk] = replace(
            fuses[circuit.pk], parent_id=circuit.parent_id, limit_a=circuit.max_current_a
        )
    nodes = {
        row.pk: _charger_node(row, row.connector_count)
        for row in Charger.objects.filter(installation_id=installation.pk)
        .annotate(connector_count=Count("connectors"))
        .only("circuit_id", "phases", "phase_rotation", "max_current_a")
    }
    if charger is not None and charger.circuit_id:
        connectors = nodes[charger.pk].connectors if charger.pk in nodes else 1
        # A charger being registered has no connectors yet: register_charger says how many.
        connectors = getattr(charger, "planned_connectors", connectors)
        nodes[charger.pk or -1] = _charger_node(charger, connectors)
    found = overloads(fuses.values(), nodes.values(), failsafe)
    if not found:
        return None
    worst = found[0]
    safe = largest_safe_failsafe(fuses.values(), nodes.values())
    return (
        f"If every charger lost its connection, each connector would fall back to {failsafe:g} A "
        f"and "
        f"{worst.fuse.name} would carry {worst.load_a:g} A on {PHASE_NAMES[worst.phase]} "
        f"(limit {worst.fuse.limit_a:g} A). The fuses allow a failsafe current of at most "
        f"{safe:g} A with these chargers."
    )


def _charger_node(charger: Charger, connectors: int) -> ChargerNode:
    return ChargerNode(
        id=charger.pk or -1,
        fuse_id=charger.circuit_id,
        phases=charger.phases,
        rotation=charger.phase_rotation,
        max_current_a=charger.max_current_a,
        connectors=connectors,
    )
