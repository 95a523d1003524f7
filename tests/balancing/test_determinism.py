"""Same snapshot in, byte-identical allocation out, whatever the order of the input lists."""

from __future__ import annotations

import gc
import json
import random
from typing import Any

import pytest

from balancing.engine import ScenarioError, solve
from bench.balancing.scenarios import depot, small_site


def _canonical(result: dict[str, Any]) -> str:
    return json.dumps(result)


def test_same_input_gives_byte_identical_output() -> None:
    snapshot = depot(300, 10, seed=7, imbalance_a=32)

    assert _canonical(solve(snapshot)) == _canonical(solve(snapshot))


def test_the_order_of_fuses_and_chargers_in_the_input_does_not_matter() -> None:
    for seed in range(40):
        snapshot = small_site(random.Random(seed))
        shuffled = json.loads(json.dumps(snapshot))
        random.Random(seed + 1000).shuffle(shuffled["chargers"])
        random.Random(seed + 2000).shuffle(shuffled["fuses"])

        assert _canonical(solve(shuffled)) == _canonical(solve(snapshot)), seed


def test_solve_leaves_the_garbage_collector_as_it_found_it() -> None:
    # solve pauses the cycle collector for speed; it must restore it, even on bad input.
    snapshot = small_site(random.Random(1))
    was_enabled = gc.isenabled()
    try:
        gc.enable()
        solve(snapshot)
        assert gc.isenabled()
        with pytest.raises(ScenarioError):
            solve({})
        assert gc.isenabled()
        gc.disable()
        solve(snapshot)
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()
