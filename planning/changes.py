"""A what-if: the changes to a site's setup and traffic, checked and applied. Pure.

``Changes`` holds what the owner asks ("4 more 32 A chargers on circuit B, a 250 A main fuse,
20 % more cars"); ``problems`` says, per field, why a change cannot be simulated (the same rules
the installation's own settings follow: no circuit above its parent, the fuses carry every
charger at the failsafe current, ``installations.failsafe``); ``apply`` gives the changed site and
visits. New chargers and extra cars get visits drawn from the history's own visits (their time of
day, stay, energy and car), deterministically for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from installations.failsafe import ChargerNode, FuseNode, largest_safe_failsafe, overloads
from planning.replay import ChargerSpec, Site, Visit

PHASE_NAMES = ("L1", "L2", "L3")
MAX_EXTRA_CHARGERS = 2000
MAX_MORE_CARS_PERCENT = 500
ROTATIONS = ("L1L2L3", "L2L3L1", "L3L1L2")


@dataclass(frozen=True)
class Changes:
    """What differs from today. None or 0: unchanged."""

    extra_chargers: int = 0
    extra_chargers_fuse: str | None = None
    extra_charger_max_current_a: float = 32.0
    extra_charger_phases: int = 3
    main_fuse_a: float | None = None
    circuit_fuse: str | None = None
    circuit_a: float | None = None
    failsafe_current_a: float | None = None
    max_phase_imbalance_a: float | None = None
    more_cars_percent: float = 0.0
    seed: int = 1

    @property
    def is_empty(self) -> bool:
        return self == Changes(seed=self.seed)


def changed_site(site: Site, changes: Changes) -> Site:
    """The site with the changed fuses, settings and the new chargers (named ``new-1``, ...)."""
    fuses = []
    for fuse in site.fuses:
        if fuse.parent is None and changes.main_fuse_a is not None:
            fuse = replace(fuse, limit_a=changes.main_fuse_a)
        if fuse.id == changes.circuit_fuse and changes.circuit_a is not None:
            fuse = replace(fuse, limit_a=changes.circuit_a)
        fuses.append(fuse)
    chargers = list(site.chargers)
    for number in range(1, changes.extra_chargers + 1):
        chargers.append(
            ChargerSpec(
                id=f"new-{number}",
                fuse=changes.extra_chargers_fuse or site.main_fuse.id,
                phases=changes.extra_charger_phases,
                rotation=ROTATIONS[number % 3],
                max_current_a=changes.extra_charger_max_current_a,
            )
        )
    return replace(
        site,
        fuses=tuple(fuses),
        chargers=tuple(chargers),
        failsafe_current_a=(
            site.failsafe_current_a
            if changes.failsafe_current_a is None
            else changes.failsafe_current_a
        ),
        max_phase_imbalance_a=(
            site.max_phase_imbalance_a
            if changes.max_phase_imbalance_a is None
            else changes.max_phase_imbalance_a
        ),
    )


def problems(site: Site, changes: Changes) -> dict[str, str]:
    """Why the changed site cannot be simulated, per field; empty when it can."""
    found: dict[str, str] = {}
    fuse_ids = {fuse.id for fuse in site.fuses}
    if changes.extra_chargers and changes.extra_chargers_fuse not in fuse_ids:
        found["extra_chargers_circuit"] = "Choose the circuit the new chargers go on."
    if changes.circuit_a is not None and changes.circuit_fuse not in fuse_ids:
        found["circuit"] = "Choose the circuit to resize."
    if changes.extra_chargers and changes.extra_charger_phases == 3 and site.phases == 1:
        found["extra_charger_phases"] = "A 3-phase charger cannot sit on a 1-phase installation."
    if not site.chargers and not changes.extra_chargers:
        found["extra_chargers"] = (
            "The installation has no chargers: add some here, or plan a new site."
        )
    if found:
        return found
    changed = changed_site(site, changes)
    fuses = {fuse.id: fuse for fuse in changed.fuses}
    for fuse in changed.fuses:
        parent = fuses.get(fuse.parent) if fuse.parent else None
        if parent is not None and fuse.limit_a > parent.limit_a:
            field = "main_fuse_a" if parent.parent is None and changes.main_fuse_a else "circuit_a"
            found[field] = (
                f"{fuse.name or fuse.id} ({fuse.limit_a:g} A) would be above "
                f"{parent.name or parent.id} ({parent.limit_a:g} A)."
            )
            return found
    new_fuse = fuses.get(changes.extra_chargers_fuse or "")
    too_strong = new_fuse is not None and changes.extra_charger_max_current_a > new_fuse.limit_a
    if changes.extra_chargers and new_fuse is not None and too_strong:
        found["extra_charger_max_current_a"] = (
            f"{changes.extra_charger_max_current_a:g} A is above the circuit "
            f"{new_fuse.name or new_fuse.id} ({new_fuse.limit_a:g} A)."
        )
        return found
    problem = failsafe_problem(changed)
    if problem:
        if changes.failsafe_current_a is not None:
            field = "failsafe_current_a"
        elif changes.extra_chargers:
            field = "extra_chargers"
        elif changes.circuit_a is not None:
            field = "circuit_a"
        else:
            field = "main_fuse_a"
        found[field] = problem
    return found


def failsafe_problem(site: Site) -> str | None:
    """Why the site's fuses cannot carry every charger at the failsafe current (the rule of
    ``installations.failsafe``: a site that loses its connection must not trip a fuse)."""
    numbers = {fuse.id: index for index, fuse in enumerate(site.fuses)}
    fuse_nodes = [
        FuseNode(
            numbers[fuse.id],
            numbers.get(fuse.parent) if fuse.parent else None,
            fuse.name or fuse.id,
            fuse.limit_a,
        )
        for fuse in site.fuses
    ]
    charger_nodes = [
        ChargerNode(
            index,
            numbers[charger.fuse],
            charger.phases,
            charger.rotation,
            charger.max_current_a,
            charger.connectors,
        )
        for index, charger in enumerate(site.chargers)
    ]
    found = overloads(fuse_nodes, charger_nodes, site.failsafe_current_a)
    if not found:
        return None
    worst = found[0]
    safe = largest_safe_failsafe(fuse_nodes, charger_nodes)
    return (
        f"With every charger offline at the failsafe current ({site.failsafe_current_a:g} A), "
        f"{worst.fuse.name} would carry {worst.load_a:g} A on {PHASE_NAMES[worst.phase]} "
        f"(limit {worst.fuse.limit_a:g} A): a bigger fuse, fewer chargers or a failsafe of at "
        f"most {safe:g} A."
    )


def extra_visits(
    history: Sequence[Visit],
    site: Site,
    changes: Changes,
    start: datetime,
    end: datetime,
) -> tuple[list[Visit], int]:
    """Visits for the new chargers and the extra cars, drawn from ``history``; and how many
    extra cars found no free charger (they are counted, not simulated)."""
    if not history:
        return [], 0
    rng = random.Random(changes.seed)
    days = max(1, round((end - start) / timedelta(days=1)))
    chargers_today = len({visit.charger for visit in history}) or 1
    per_charger_day = len(history) / (chargers_today * days)
    busy: dict[str, list[tuple[datetime, datetime]]] = {}
    for visit in history:
        busy.setdefault(visit.charger, []).append((visit.arrival, visit.departure))
    added: list[Visit] = []
    new_ids = [charger.id for charger in changed_site(site, changes).chargers][len(site.chargers) :]
    for charger_id in new_ids:
        for day in range(days):
            if rng.random() >= per_charger_day:
                continue
            visit = _drawn(rng, history, charger_id, start + timedelta(days=day), start, end)
            if visit is not None and _free(busy, charger_id, visit):
                busy.setdefault(charger_id, []).append((visit.arrival, visit.departure))
                added.append(visit)
    turned_away = 0
    more = round(len(history) * changes.more_cars_percent / 100)
    all_ids = [charger.id for charger in site.chargers] + new_ids
    for _ in range(more):
        day = start + timedelta(days=rng.randrange(days))
        visit = _drawn(rng, history, "", day, start, end)
        if visit is None:
            continue
        order = all_ids[:]
        rng.shuffle(order)
        for charger_id in order:
            candidate = replace(visit, charger=charger_id)
            if _free(busy, charger_id, candidate):
                busy.setdefault(charger_id, []).append((visit.arrival, visit.departure))
                added.append(candidate)
                break
        else:
            turned_away += 1
    return added, turned_away


def _drawn(
    rng: random.Random,
    history: Sequence[Visit],
    charger_id: str,
    day: datetime,
    start: datetime,
    end: datetime,
) -> Visit | None:
    """A copy of a random past visit moved to ``day`` (same time of day, stay, energy, car)."""
    model = history[rng.randrange(len(history))]
    shift = timedelta(days=(day - model.arrival).days + (1 if (day - model.arrival).seconds else 0))
    arrival = model.arrival + shift
    if not start <= arrival < end:
        return None
    return replace(model, charger=charger_id, arrival=arrival, departure=model.departure + shift)


def _free(busy: dict[str, list[tuple[datetime, datetime]]], charger_id: str, visit: Visit) -> bool:
    return all(
        visit.departure <= taken_from or visit.arrival >= taken_until
        for taken_from, taken_until in busy.get(charger_id, ())
    )
