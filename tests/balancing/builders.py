"""Short builders for snapshots in the contract's JSON, so each test states only what matters.

A charger defaults to a 3-phase, 6-32 A charge point on the main fuse, online, with a car of
unknown phases plugged in that has not charged yet and is paused (limit 0), so it wants current.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from balancing.engine import solve

NOW = "2026-11-24T10:00:00Z"


def fuse(
    fuse_id: str,
    limit: float | Sequence[float],
    *,
    parent: str | None = None,
    base_load: list[float] | None = None,
) -> dict[str, Any]:
    """A fuse; a single number means the same limit on L1, L2 and L3."""
    limits = [limit] * 3 if isinstance(limit, int | float) else list(limit)
    item: dict[str, Any] = {"id": fuse_id, "parent": parent, "limit": limits}
    if base_load is not None:
        item["base_load"] = base_load
    return item


def charger(charger_id: str, **fields: Any) -> dict[str, Any]:
    """A charger with a car that wants current; keyword arguments override any field."""
    item: dict[str, Any] = {
        "id": charger_id,
        "fuse": "main",
        "phases": 3,
        "rotation": "L1L2L3",
        "min_current": 6,
        "max_current": 32,
        "online": True,
        "car_connected": True,
        "car_phases": None,
        "measured": [0, 0, 0],
        "current_limit": 0,
        "priority": 0,
        "connected_since": "2026-11-24T08:00:00Z",
        "energy_wh": 0,
    }
    item.update(fields)
    return item


def scenario(
    chargers: list[dict[str, Any]],
    fuses: list[dict[str, Any]] | None = None,
    *,
    main_limit: float | Sequence[float] = 63,
    max_phase_imbalance: float | None = None,
    failsafe_current: float = 6,
    now: str = NOW,
) -> dict[str, Any]:
    """A snapshot; without `fuses`, a single main fuse of `main_limit`."""
    return {
        "now": now,
        "installation": {
            "id": "test-site",
            "voltage": 230,
            "max_phase_imbalance": max_phase_imbalance,
            "failsafe_current": failsafe_current,
        },
        "fuses": fuses if fuses is not None else [fuse("main", main_limit)],
        "chargers": chargers,
    }


def currents(result: dict[str, Any]) -> dict[str, float]:
    """Charger id -> current in the allocation."""
    return {item["id"]: item["current"] for item in result["allocations"]}


def allocation(result: dict[str, Any], charger_id: str) -> dict[str, Any]:
    """The allocation entry of one charger."""
    return next(item for item in result["allocations"] if item["id"] == charger_id)


def solve_currents(snapshot: dict[str, Any]) -> dict[str, float]:
    """Solve and return charger id -> current."""
    return currents(solve(snapshot))


def charging_at(current_a: float, **fields: Any) -> dict[str, Any]:
    """Fields of a car that draws its whole limit of `current_a` on all three phases."""
    draw = [current_a - 0.2] * 3
    return {"current_limit": current_a, "measured": draw, "car_phases": 3, **fields}
