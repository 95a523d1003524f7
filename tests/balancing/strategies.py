"""Hypothesis strategies for random snapshots: random fuse trees, random chargers and cars."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

ROTATIONS = ("L1L2L3", "L2L3L1", "L3L1L2", "L1L3L2", "L2L1L3", "L3L2L1")
# Tenths of an ampere, as meters report them, and a few awkward values.
amps = st.integers(min_value=0, max_value=800).map(lambda tenths: tenths / 10)


@st.composite
def fuse_trees(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-5 fuses, each below a random earlier one; limits and base loads per phase."""
    fuses: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 5))):
        parent = None if number == 0 else f"f{draw(st.integers(0, number - 1))}"
        limit = draw(st.lists(amps, min_size=3, max_size=3))
        fuse: dict[str, Any] = {"id": f"f{number}", "parent": parent, "limit": limit}
        if draw(st.booleans()):
            fuse["base_load"] = draw(
                st.lists(st.floats(-5, 40, allow_nan=False).map(round1), min_size=3, max_size=3)
            )
        fuses.append(fuse)
    return fuses


def round1(value: float) -> float:
    return round(value, 1)


@st.composite
def chargers(
    draw: st.DrawFn, charger_id: str, fuse_ids: list[str], *, with_history: bool = True
) -> dict[str, Any]:
    """One charger; `with_history` False leaves out measurement and present limit."""
    phases = draw(st.sampled_from((1, 3)))
    rotation = draw(st.sampled_from(ROTATIONS))
    if phases == 1 and draw(st.booleans()):
        rotation = rotation[:2]
    min_current = draw(st.sampled_from((6.0, 6.0, 8.0, 10.0, 6.5)))
    max_current = min_current + draw(st.sampled_from((0.0, 4.0, 10.0, 26.0)))
    can_switch = phases == 3 and draw(st.booleans())
    item: dict[str, Any] = {
        "id": charger_id,
        "fuse": draw(st.sampled_from(fuse_ids)),
        "phases": phases,
        "rotation": rotation,
        "min_current": min_current,
        "max_current": max_current,
        "online": draw(st.integers(0, 9)) > 0,
        "car_connected": draw(st.integers(0, 5)) > 0,
        "car_phases": draw(st.sampled_from((None, None, 1, 2, 3))),
        "priority": draw(st.integers(0, 2)),
        "connected_since": draw(
            st.sampled_from((None, "2026-11-24T07:00:00Z", "2026-11-24T09:59:00Z"))
        ),
        "energy_wh": draw(st.integers(0, 40_000)),
        "can_switch_phases": can_switch,
    }
    if can_switch:
        item["active_phases"] = draw(st.sampled_from((1, 3)))
    if with_history:
        item["measured"] = draw(
            st.none() | st.lists(amps.map(lambda a: a / 2), min_size=3, max_size=3)
        )
        item["current_limit"] = draw(st.none() | st.sampled_from((0.0, 6.0, 10.0, 16.0, 32.0)))
    return item


@st.composite
def snapshots(draw: st.DrawFn, *, with_history: bool = True) -> dict[str, Any]:
    """A whole random snapshot."""
    fuses = draw(fuse_trees())
    fuse_ids = [fuse["id"] for fuse in fuses]
    count = draw(st.integers(0, 10))
    return {
        "now": "2026-11-24T10:00:00Z",
        "installation": {
            "id": "random",
            "voltage": 230,
            "max_phase_imbalance": draw(st.none() | st.sampled_from((0.0, 6.0, 16.0, 20.0))),
            "failsafe_current": draw(st.sampled_from((0.0, 6.0, 8.0))),
        },
        "fuses": fuses,
        "chargers": [
            draw(chargers(f"cp-{number}", fuse_ids, with_history=with_history))
            for number in range(count)
        ],
    }
