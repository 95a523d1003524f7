"""Rules 2 and 3 against exact references: on random small sites and on the hard cases of
issue #11 (`bench.balancing.scenarios.small_site` and `hard_site`), the engine serves as many
cars, priority by priority, as a mixed-integer program (scipy's HiGHS) finds possible, never
lets a lower-priority car charge where a higher-priority one could, and shares the current as
the exact max-min fair split of linear programs does. The definitions are those of
`bench.balancing.optimality`, where the benchmark measures the same on more seeds.

Tolerances, stated exactly, on the seeds below: the served counts match the optimum at every
priority on at least 99.9 % of the snapshots (so on all of these) and are never more than one
car short; no strict-priority violation; no overload; every served car within 0.1 A of its
exact max-min fair current (the engine's 0.1 A steps) on at least 99 % of the snapshots.
Measured with 2,000 seeds of each family: see docs/benchmarks.md.
"""

from __future__ import annotations

import random

import pytest

from balancing.engine import solve
from balancing.engine.model import parse_scenario
from balancing.engine.solve import allocate
from bench.balancing.optimality import FAIR_TOLERANCE_DA, priority_violation, unfairness_da
from bench.balancing.reference import engine_figures, optimum, problem, served_modes
from bench.balancing.scenarios import hard_site, mid_site, small_site
from tests.balancing.builders import charger, scenario
from tests.balancing.oracle import violations

FAMILIES = {"small": small_site, "hard": hard_site}
SEEDS = range(300)
FAIR_SEEDS = range(150)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_engine_serves_as_many_cars_as_the_exact_optimum_and_priority_is_strict(
    family: str,
) -> None:
    exact = 0
    shortfalls = []
    for seed in SEEDS:
        snapshot = FAMILIES[family](random.Random(seed))
        result = solve(snapshot)
        best = optimum(snapshot)
        ours = engine_figures(snapshot, result)
        levels = sorted(best.wanting_by_priority, reverse=True)
        best_counts = [best.served_by_priority.get(level, 0) for level in levels]
        our_counts = [ours.served_by_priority.get(level, 0) for level in levels]

        # More than the optimum would mean the engine broke a constraint the reference keeps.
        assert our_counts <= best_counts, seed
        assert violations(snapshot, result) == [], seed
        assert not priority_violation(problem(snapshot), served_modes(problem(snapshot), result))
        if our_counts == best_counts:
            exact += 1
            continue
        shortfalls.append(seed)
        assert sum(best_counts) - sum(our_counts) <= 1, seed

    assert exact >= 0.999 * len(SEEDS), shortfalls


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_split_among_served_cars_is_max_min_fair(family: str) -> None:
    unfair = []
    for seed in FAIR_SEEDS:
        snapshot = FAMILIES[family](random.Random(seed))
        # Without rule 5's hysteresis, which keeps a limit that moved by less than 1 A.
        result = allocate(parse_scenario(snapshot), hysteresis=False).to_dict()
        if unfairness_da(problem(snapshot), result) > FAIR_TOLERANCE_DA:
            unfair.append(seed)

    assert len(unfair) <= 0.01 * len(FAIR_SEEDS), unfair


def test_the_reference_finds_the_one_phase_trade_a_greedy_pass_misses() -> None:
    # Guards the reference itself: three 1-phase cars beat one 3-phase car at 10 A a phase.
    snapshot = scenario(
        [
            charger("three", energy_wh=0),
            charger("l1", phases=1, rotation="L1", energy_wh=5000),
            charger("l2", phases=1, rotation="L2", energy_wh=5000),
            charger("l3", phases=1, rotation="L3", energy_wh=5000),
        ],
        main_limit=10,
    )

    assert optimum(snapshot).served == 3
    assert engine_figures(snapshot, solve(snapshot)).served == 3


def test_the_priority_check_and_the_fair_split_see_what_is_wrong() -> None:
    # Guards the checks themselves on a hand-made wrong allocation: the low-priority car on L2
    # charges where the high-priority one on L2 could, and two cars alike get 6 and 20 A.
    snapshot = scenario(
        [
            charger("high", phases=1, rotation="L2", priority=1),
            charger("low", phases=1, rotation="L2"),
            charger("a", phases=1, rotation="L1"),
            charger("b", phases=1, rotation="L1"),
        ],
        main_limit=[26, 6, 26],
    )
    wrong = {
        "allocations": [
            {"id": "high", "current": 0.0, "phases": 1, "change": "none"},
            {"id": "low", "current": 6.0, "phases": 1, "change": "none"},
            {"id": "a", "current": 6.0, "phases": 1, "change": "none"},
            {"id": "b", "current": 20.0, "phases": 1, "change": "none"},
        ],
        "paused": ["high"],
        "notes": [],
    }
    read = problem(snapshot)

    assert priority_violation(read, served_modes(read, wrong))
    assert unfairness_da(read, wrong) == pytest.approx(70.0)
    assert not priority_violation(read, served_modes(read, solve(snapshot)))
    assert unfairness_da(read, solve(snapshot)) <= FAIR_TOLERANCE_DA


def test_priority_is_strict_beyond_the_exact_search() -> None:
    # Seeded mid-size depot 47: 33 cars want current under a 16 A imbalance limit, and the exact
    # search runs out of nodes. Steps 1-4 left a priority car on L1 waiting beside a served
    # lower-priority car on L1 alike; the lift after the admission swaps them.
    snapshot = mid_site(random.Random(47))
    read = problem(snapshot)
    result = solve(snapshot)

    assert not priority_violation(read, served_modes(read, result))
    assert violations(snapshot, result) == []
    assert (
        optimum(snapshot).served_by_priority[1]
        == engine_figures(snapshot, result).served_by_priority[1]
    )
