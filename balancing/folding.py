"""Folding a car's other wishes into its snapshot entry, before the engine solves (pure: no
database, no Django). ``balancing.snapshot.build_scenario`` calls these for each car:

- ``apply_cap``: a cap from upstream's charging profiles (``upstream.caps``) or the car's charge
  mode; the lower cap wins, and a cap below the charger's minimum pauses the car.
- ``fold_mode``: a car's mode input (``modes.inputs.decide``): a cap, a raised priority, a floor
  for a car behind its departure plan, one phase for a surplus car (counted on one phase only
  once it is on one for sure).
- ``solve_with_floors``: the engine's solve, again without a floor that left its car paused.

The rules are in docs/balancing.md ("Charge modes", "Upstream caps").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from balancing.engine import solve, tuning

if TYPE_CHECKING:
    from modes.inputs import ModeInput


def apply_cap(entry: dict[str, Any], cap_a: float, key: str) -> None:
    """One more cap on the charger, from upstream's charging profiles (``upstream.caps``) or
    its charge mode (``modes.inputs``): ``max_current`` = the lower of the two. A cap below the
    charger's minimum pauses the car (0 A): its range is then made one without a 0.1 A step,
    which the engine cannot give a limit in (``balancing.engine.demand.assess``). ``key``
    (``upstream_cap``, ``mode_cap``) tells the decision's reader."""
    entry[key] = round(cap_a, 2)
    if cap_a >= entry["min_current"]:
        entry["max_current"] = min(entry["max_current"], cap_a)
        return
    no_step = math.floor(entry["min_current"] * 10) / 10 + 0.05
    entry["min_current"] = entry["max_current"] = no_step


def fold_mode(entry: dict[str, Any], decision: ModeInput) -> None:
    """One car's mode input folded into its snapshot entry (pure)."""
    entry["mode"] = str(decision.mode)
    entry["mode_reason"] = decision.reason
    if decision.one_phase and entry["phases"] == 3:
        _fold_one_phase(entry)
    if decision.cap_a is not None:
        apply_cap(entry, decision.cap_a, "mode_cap")
    entry["priority"] += decision.priority_boost
    floor = decision.floor_a
    if floor is not None and entry["min_current"] < floor <= entry["max_current"]:
        entry["mode_floor"] = {"from": entry["min_current"], "to": floor}
        entry["min_current"] = floor


def _fold_one_phase(entry: dict[str, Any]) -> None:
    """A surplus car to charge on one phase. The snapshot counts it on one phase only once the
    charger is on one phase for sure: online, its last limit said one phase, and its draw shows
    at most one phase in use. Until then it keeps its 3-phase footprint and ``switch_to_one_phase``
    asks ``planned_changes`` to send the limit with one phase. Offline it keeps its 3 phases: its
    failsafe profile (``send_failsafe``) is for all the charger's phases, and the car may take
    the failsafe on each once the last limit expires."""
    if not entry["online"]:
        return
    measured, car_phases = entry.get("measured"), entry.get("car_phases")
    if measured is not None:
        on_one = sum(1 for draw in measured if draw >= tuning.PHASE_UNUSED_BELOW_A) <= 1
    else:
        on_one = car_phases == 1
    if entry.get("active_phases") == 1 and on_one:
        entry["phases"] = 1
        entry.pop("can_switch_phases", None)
        entry.pop("active_phases", None)
        entry["car_phases"] = None
    else:
        entry["switch_to_one_phase"] = True


def solve_with_floors(scenario: dict[str, Any]) -> dict[str, Any]:
    """Solve; a raised car that its floor (``fold_mode``) left paused gets its own minimum back
    and the snapshot is solved again, so it charges on what there is rather than not at all."""
    result = solve(scenario)
    paused = set(result["paused"])
    relaxed = [e for e in scenario["chargers"] if "mode_floor" in e and e["id"] in paused]
    if not relaxed:
        return result
    for entry in relaxed:
        entry["min_current"] = entry["mode_floor"]["from"]
        entry["mode_floor"]["relaxed"] = True
    return solve(scenario)
