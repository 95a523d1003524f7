"""Rule 2 against the exact optimum: on random small sites the engine serves as many cars,
priority by priority, as a mixed-integer program (scipy's HiGHS) finds possible.

Tolerance, stated exactly: over the 500 seeded snapshots below, at least 99 % must match the
optimum exactly, and no snapshot may be more than one car short. Why not 100 %: the engine's
improvement step looks one move deep (pause one car to admit several, or switch one car's phase
mode) and settles priorities one level at a time. Two situations need more than that, and every
shortfall must be one of them:

- a phase-imbalance limit, where admitting a car can *make* room (a 1-phase car on L2 lets
  another on L1 in), so the best set may need two coordinated moves;
- several priority levels, where the choice among equally many higher-priority cars decides how
  many lower-priority cars fit (the engine picks among them by rank: energy, then arrival).

Measured with 3,000 seeds: 13 snapshots (0.43 %) one car short, 12 with an imbalance limit and
1 with two priority levels; none more than one car short.
"""

from __future__ import annotations

import random

from balancing.engine import solve
from bench.balancing.reference import engine_figures, optimum
from bench.balancing.scenarios import small_site
from tests.balancing.builders import charger, scenario

SEEDS = range(500)


def _served_by_level(served: dict[int, int], levels: list[int]) -> list[int]:
    return [served.get(level, 0) for level in levels]


def test_engine_serves_as_many_cars_as_the_exact_optimum() -> None:
    exact = 0
    shortfalls = []
    for seed in SEEDS:
        snapshot = small_site(random.Random(seed))
        best = optimum(snapshot)
        ours = engine_figures(snapshot, solve(snapshot))
        levels = sorted(best.wanting_by_priority, reverse=True)
        best_counts = _served_by_level(best.served_by_priority, levels)
        our_counts = _served_by_level(ours.served_by_priority, levels)

        # More than the optimum would mean the engine broke a constraint the reference keeps.
        assert our_counts <= best_counts, seed
        if our_counts == best_counts:
            exact += 1
            continue
        shortfalls.append(seed)
        assert best.served - ours.served <= 1, seed
        has_imbalance_limit = snapshot["installation"]["max_phase_imbalance"] is not None
        assert has_imbalance_limit or len(levels) > 1, seed

    assert exact >= 0.99 * len(SEEDS), shortfalls


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
