"""The example of docs/BALANCING.md, solved as the contract describes."""

from __future__ import annotations

import copy
import json
from typing import Any

from balancing.engine import solve
from tests.balancing.builders import allocation

EXAMPLE: dict[str, Any] = {
    "now": "2026-11-24T10:00:00Z",
    "installation": {
        "id": "demo",
        "voltage": 230,
        "max_phase_imbalance": 16,
        "failsafe_current": 6,
    },
    "fuses": [
        {"id": "main", "parent": None, "limit": [63, 63, 63], "base_load": [12.0, 4.5, 7.0]},
        {"id": "row-a", "parent": "main", "limit": [32, 32, 32], "base_load": [0, 0, 0]},
    ],
    "chargers": [
        {
            "id": "cp-1",
            "fuse": "row-a",
            "phases": 3,
            "rotation": "L1L2L3",
            "min_current": 6,
            "max_current": 32,
            "online": True,
            "car_connected": True,
            "car_phases": None,
            "measured": [15.8, 15.9, 0.2],
            "current_limit": 16,
            "priority": 0,
            "connected_since": "2026-11-24T08:10:00Z",
            "energy_wh": 8200,
        }
    ],
}


def test_example_output_has_the_contract_shape() -> None:
    result = solve(EXAMPLE)

    # "finished" is the engine's addition (see balancing.engine.model: car_finished).
    assert set(result) == {"allocations", "paused", "finished", "notes"}
    assert [set(item) for item in result["allocations"]] == [{"id", "current", "phases", "change"}]
    assert result["paused"] == []
    assert result["finished"] == []
    assert all(isinstance(note, str) for note in result["notes"])


def test_example_car_on_two_phases_is_held_by_the_imbalance_limit() -> None:
    # The measurement shows the car drawing on L1 and L2 only, so it is accounted on those two.
    # L1 and L2 then carry 16 A more than L3: exactly the 16 A imbalance limit.
    result = solve(EXAMPLE)

    assert allocation(result, "cp-1") == {
        "id": "cp-1",
        "current": 16.0,
        "phases": 3,
        "change": "none",
    }
    assert any("cp-1 car draws on L1, L2 only" in note for note in result["notes"])


def test_without_imbalance_limit_the_example_car_gets_the_row_fuse() -> None:
    # row-a (32 A) is the tightest limit; main still has 63 - 12 = 51 A on L1.
    snapshot = copy.deepcopy(EXAMPLE)
    snapshot["installation"]["max_phase_imbalance"] = None

    result = solve(snapshot)

    assert allocation(result, "cp-1")["current"] == 32.0
    assert allocation(result, "cp-1")["change"] == "raise"


def test_solve_does_not_modify_its_input() -> None:
    snapshot = copy.deepcopy(EXAMPLE)
    solve(snapshot)
    assert snapshot == EXAMPLE


def test_output_is_json_serialisable() -> None:
    assert json.loads(json.dumps(solve(EXAMPLE))) == solve(EXAMPLE)
