"""An independent check of rule 1, written from the contract and the engine's documented reading
of measurements, not from the engine's code: given a snapshot and an allocation, the worst-case
load of every fuse on every phase and the worst-case phase imbalance.

Worst case, per docs/BALANCING.md and `balancing.engine.demand`:
- an online charger with a car loads its allocated current on every phase the car may use:
  the first phase of the rotation for a 1-phase charger or a charger told to use 1 phase;
  otherwise the first `car_phases` phases of the rotation, or, when `car_phases` is null, the
  phases the measurement clearly shows (busiest phase >= 4 A, the used ones >= 1 A and first in
  the rotation), or else all three;
- an offline charger with a car loads the failsafe current on all of its charger's phases;
- each fuse carries its base load (negative readings count as 0) plus every charger below it;
- a fuse phase that base load and offline chargers already put over its limit may carry no
  online charger's current at all; the fuse's other phases are checked as usual.
"""

from __future__ import annotations

from typing import Any

PHASES = {"L1": 0, "L2": 1, "L3": 2}
# The results are rounded to 0.1 A and inputs may have more decimals; this is far below that.
TOLERANCE_A = 1e-6


def rotation_of(charger: dict[str, Any]) -> list[int]:
    text = charger["rotation"]
    return [PHASES[text[start : start + 2]] for start in range(0, len(text), 2)]


def loaded_phases(charger: dict[str, Any], mode: int) -> list[int]:
    rotation = rotation_of(charger)
    if charger["phases"] == 1 or mode == 1:
        return rotation[:1]
    count = charger.get("car_phases")
    was_three = charger.get("active_phases") in (None, 3) or not charger.get("can_switch_phases")
    if count is None and was_three and charger.get("measured") is not None:
        draws = [max(0.0, charger["measured"][phase]) for phase in rotation]
        if max(draws) >= 4.0:
            used = [draw >= 1.0 for draw in draws]
            seen = sum(used)
            if used == [True] * seen + [False] * (3 - seen):
                count = seen
    return rotation[: count or 3]


def charger_loads(scenario: dict[str, Any], result: dict[str, Any]) -> dict[str, list[float]]:
    """Per charger id, its worst-case load on L1, L2, L3 under the allocation."""
    by_id = {item["id"]: item for item in result["allocations"]}
    failsafe = scenario["installation"]["failsafe_current"]
    loads = {}
    for charger in scenario["chargers"]:
        load = [0.0, 0.0, 0.0]
        if not charger["online"]:
            if charger["car_connected"]:
                for phase in rotation_of(charger)[: charger["phases"]]:
                    load[phase] += failsafe
        elif charger["car_connected"]:
            allocation = by_id[charger["id"]]
            for phase in loaded_phases(charger, allocation["phases"]):
                load[phase] += allocation["current"]
        loads[charger["id"]] = load
    return loads


def violations(scenario: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Every way the allocation breaks rule 1 (empty when it is safe)."""
    problems = []
    fuses = {fuse["id"]: fuse for fuse in scenario["fuses"]}
    loads = charger_loads(scenario, result)

    def below(fuse_id: str) -> list[dict[str, Any]]:
        found = []
        for charger in scenario["chargers"]:
            current = charger["fuse"]
            while current is not None:
                if current == fuse_id:
                    found.append(charger)
                    break
                current = fuses[current]["parent"]
        return found

    for fuse_id, fuse in fuses.items():
        chargers = below(fuse_id)
        base = [max(0.0, value) for value in fuse.get("base_load") or [0, 0, 0]]
        offline = [0.0, 0.0, 0.0]
        total = list(base)
        for charger in chargers:
            for phase in range(3):
                total[phase] += loads[charger["id"]][phase]
                if not charger["online"]:
                    offline[phase] += loads[charger["id"]][phase]
        for phase in range(3):
            if base[phase] + offline[phase] > fuse["limit"][phase] + TOLERANCE_A:
                # Overloaded before any car: no online charger may draw on this phase here.
                for charger in chargers:
                    if charger["online"] and loads[charger["id"]][phase] > 0:
                        problems.append(
                            f"{charger['id']} draws on L{phase + 1} of overloaded {fuse_id}"
                        )
            elif total[phase] > fuse["limit"][phase] + TOLERANCE_A:
                problems.append(
                    f"{fuse_id} L{phase + 1}: {total[phase]:.2f} A > {fuse['limit'][phase]} A"
                )

    limit = scenario["installation"].get("max_phase_imbalance")
    if limit is not None:
        combined = [sum(load[phase] for load in loads.values()) for phase in range(3)]
        offline = [
            sum(
                loads[charger["id"]][phase]
                for charger in scenario["chargers"]
                if not charger["online"]
            )
            for phase in range(3)
        ]
        for high in range(3):
            for low in range(3):
                allowed = max(limit, offline[high] - offline[low])
                if combined[high] - combined[low] > allowed + TOLERANCE_A:
                    problems.append(
                        f"imbalance L{high + 1}-L{low + 1}: "
                        f"{combined[high] - combined[low]:.2f} A > {allowed} A"
                    )
    return problems


def range_violations(scenario: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Online chargers whose current is neither 0 nor within [min_current, max_current]."""
    by_id = {item["id"]: item for item in result["allocations"]}
    problems = []
    for charger in scenario["chargers"]:
        current = by_id[charger["id"]]["current"]
        if not charger["online"]:
            continue
        if not charger["car_connected"] and current != 0:
            problems.append(f"{charger['id']} has no car but {current} A")
        if current != 0 and not (
            charger["min_current"] - TOLERANCE_A <= current <= charger["max_current"] + TOLERANCE_A
        ):
            problems.append(f"{charger['id']}: {current} A outside its range")
    return problems


def unused_current(scenario: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Charging cars below their max_current although no limit they touch is full (within the
    0.1 A rounding step): the waste rule 4 forbids. Meaningful without hysteresis and held cars,
    i.e. for snapshots without `current_limit`."""
    step = 0.1 + TOLERANCE_A
    fuses = {fuse["id"]: fuse for fuse in scenario["fuses"]}
    loads = charger_loads(scenario, result)
    by_id = {item["id"]: item for item in result["allocations"]}

    def path(fuse_id: str | None) -> list[str]:
        ids = []
        while fuse_id is not None:
            ids.append(fuse_id)
            fuse_id = fuses[fuse_id]["parent"]
        return ids

    totals = {fuse_id: [0.0, 0.0, 0.0] for fuse_id in fuses}
    for charger in scenario["chargers"]:
        for fuse_id in path(charger["fuse"]):
            for phase in range(3):
                totals[fuse_id][phase] += loads[charger["id"]][phase]
    combined = [sum(load[phase] for load in loads.values()) for phase in range(3)]
    limit = scenario["installation"].get("max_phase_imbalance")

    problems = []
    for charger in scenario["chargers"]:
        allocation = by_id[charger["id"]]
        current = allocation["current"]
        if not charger["online"] or current == 0 or current + step > charger["max_current"]:
            continue
        loaded = loaded_phases(charger, allocation["phases"])
        full = False
        for fuse_id in path(charger["fuse"]):
            fuse = fuses[fuse_id]
            base = [max(0.0, value) for value in fuse.get("base_load") or [0, 0, 0]]
            for phase in loaded:
                if base[phase] + totals[fuse_id][phase] + step > fuse["limit"][phase]:
                    full = True
        if limit is not None:
            for high in loaded:
                for low in set(range(3)) - set(loaded):
                    if combined[high] - combined[low] + step > limit:
                        full = True
        if not full:
            problems.append(f"{charger['id']} at {current} A could take more")
    return problems
