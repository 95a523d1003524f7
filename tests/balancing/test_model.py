"""Parsing the snapshot: bad input raises one error class whose message names the field."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pytest

from balancing.engine import ScenarioError, solve
from balancing.engine.model import Charger, parse_scenario
from tests.balancing.builders import charger, fuse, scenario


def _valid() -> dict[str, Any]:
    return scenario([charger("cp-1"), charger("cp-2", phases=1, rotation="L2")])


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    snapshot = copy.deepcopy(_valid())
    target = snapshot
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return snapshot


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("now",), "yesterday", "now: not an ISO-8601 timestamp"),
        (("now",), "2026-11-24T10:00:00", "now: needs a time zone"),
        (("installation",), _DELETE, "installation: is required"),
        (("installation", "failsafe_current"), -1, "installation.failsafe_current: must be >= 0"),
        (("installation", "max_phase_imbalance"), "16", "installation.max_phase_imbalance:"),
        (("fuses",), [], "fuses: must be a non-empty list"),
        (("fuses", 0, "limit"), [63, 63], "fuses[0].limit: must be a list of 3 numbers"),
        (("fuses", 0, "limit"), [63, -1, 63], "fuses[0].limit[1]: must be >= 0"),
        (("fuses", 0, "parent"), "nowhere", "fuses: exactly one fuse must have parent null"),
        (("chargers", 0, "fuse"), "row-z", "chargers[0].fuse: unknown fuse 'row-z'"),
        (("chargers", 0, "phases"), 2, "chargers[0].phases: must be one of 1, 3"),
        (("chargers", 0, "rotation"), "L1L1L2", "chargers[0].rotation: must be a permutation"),
        (("chargers", 1, "rotation"), "L4", "chargers[1].rotation: must be a permutation"),
        (("chargers", 0, "min_current"), "six", "chargers[0].min_current: must be a number"),
        (("chargers", 0, "min_current"), 0, "chargers[0].min_current: must be > 0"),
        (("chargers", 0, "max_current"), 5, "chargers[0].max_current: 5 is below min_current 6"),
        (("chargers", 0, "max_current"), float("nan"), "chargers[0].max_current: must be a number"),
        (("chargers", 0, "online"), "yes", "chargers[0].online: must be true or false"),
        (("chargers", 0, "car_connected"), _DELETE, "chargers[0].car_connected: is required"),
        (("chargers", 0, "car_phases"), 4, "chargers[0].car_phases: must be one of 1, 2, 3"),
        (("chargers", 0, "measured"), [1, 2], "chargers[0].measured: must be a list of 3"),
        (("chargers", 0, "priority"), 1.5, "chargers[0].priority: must be an integer"),
        (("chargers", 0, "energy_wh"), True, "chargers[0].energy_wh: must be a number"),
        (
            ("chargers", 1, "can_switch_phases"),
            True,
            "chargers[1].can_switch_phases: only a 3-phase charger can switch",
        ),
        (("chargers", 1, "id"), "cp-1", "chargers: duplicate id 'cp-1'"),
        (("chargers", 0), "cp-1", "chargers[0]: must be an object"),
    ],
)
def test_bad_input_names_the_field(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(ScenarioError, match="^" + re.escape(message)):
        solve(_with(path, value))


def test_an_unknown_parent_fuse_is_rejected() -> None:
    snapshot = scenario([], fuses=[fuse("main", 63), fuse("row-a", 32, parent="row-z")])

    with pytest.raises(ScenarioError, match=r"^fuses\[1\]\.parent: unknown fuse 'row-z'"):
        solve(snapshot)


def test_a_fuse_cycle_is_rejected() -> None:
    snapshot = scenario(
        [],
        fuses=[fuse("main", 63), fuse("a", 32, parent="b"), fuse("b", 32, parent="a")],
    )

    with pytest.raises(ScenarioError, match="cycle"):
        solve(snapshot)


def test_a_scenario_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(ScenarioError, match="scenario: must be an object"):
        solve([])  # type: ignore[arg-type]


def test_optional_fields_have_documented_defaults() -> None:
    minimal = {
        "now": "2026-11-24T10:00:00Z",
        "installation": {"id": "site", "failsafe_current": 6},
        "fuses": [{"id": "main", "parent": None, "limit": [16, 16, 16]}],
        "chargers": [
            {
                "id": "cp",
                "fuse": "main",
                "phases": 3,
                "rotation": "L1L2L3",
                "min_current": 6,
                "max_current": 16,
                "online": True,
                "car_connected": True,
            }
        ],
    }

    parsed = parse_scenario(minimal)
    (cp,) = parsed.chargers

    assert parsed.installation.max_phase_imbalance_a is None
    assert parsed.fuses[0].base_load_a == (0.0, 0.0, 0.0)
    assert (cp.car_phases, cp.measured_a, cp.current_limit_a) == (None, None, None)
    assert (cp.priority, cp.energy_wh, cp.connected_since) == (0, 0.0, None)
    assert (cp.can_switch_phases, cp.active_phases) == (False, 3)
    assert solve(minimal)["allocations"][0]["current"] == 16.0


def test_negative_base_load_counts_as_zero() -> None:
    # A negative meter reading is export (solar) that may stop at any moment.
    snapshot = scenario([charger("cp")], fuses=[fuse("main", 16, base_load=[-10, -10, -10])])

    assert solve(snapshot)["allocations"][0]["current"] == 16.0


def test_parsed_snapshot_is_immutable() -> None:
    parsed = parse_scenario(_valid())

    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.fuses[0].limit_a = (1.0, 1.0, 1.0)  # type: ignore[misc]


def test_chargers_are_built_with_every_field_as_the_constructor_would() -> None:
    # The parser fills frozen Charger instances directly (for speed); they must be identical to
    # what the dataclass constructor makes, every field included.
    (charger_1, _) = parse_scenario(_valid()).chargers
    values = {field.name: getattr(charger_1, field.name) for field in dataclasses.fields(Charger)}

    assert set(vars(charger_1)) == set(values)
    assert Charger(**values) == charger_1
    with pytest.raises(dataclasses.FrozenInstanceError):
        charger_1.priority = 3  # type: ignore[misc]
