"""The engine against the exact optimum (`reference.optimum`) on many random small sites."""

from __future__ import annotations

import random
from dataclasses import dataclass

from balancing.engine import solve
from bench.balancing.reference import engine_figures, optimum
from bench.balancing.scenarios import small_site


@dataclass(frozen=True)
class Optimality:
    """Totals over all snapshots."""

    snapshots: int
    cars_wanting: int
    served_engine: int
    served_optimum: int
    served_optimum_raising: int
    exact_snapshots: int
    short_snapshots: int
    worst_shortfall: int
    useful_engine_a: float
    useful_optimum_a: float


def run(*, snapshots: int) -> Optimality:
    served_engine = served_optimum = served_raising = wanting = 0
    exact = short = worst = 0
    useful_engine = useful_optimum = 0.0
    for seed in range(snapshots):
        snapshot = small_site(random.Random(seed))
        best = optimum(snapshot)
        raising = optimum(snapshot, raise_for_imbalance=True)
        ours = engine_figures(snapshot, solve(snapshot))
        levels = sorted(best.wanting_by_priority, reverse=True)
        best_counts = [best.served_by_priority.get(level, 0) for level in levels]
        our_counts = [ours.served_by_priority.get(level, 0) for level in levels]
        wanting += sum(best.wanting_by_priority.values())
        served_engine += ours.served
        served_optimum += best.served
        served_raising += raising.served
        if our_counts == best_counts:
            exact += 1
        else:
            short += 1
            worst = max(worst, best.served - ours.served)
        useful_engine += ours.useful_current_a
        useful_optimum += best.useful_current_a
    return Optimality(
        snapshots=snapshots,
        cars_wanting=wanting,
        served_engine=served_engine,
        served_optimum=served_optimum,
        served_optimum_raising=served_raising,
        exact_snapshots=exact,
        short_snapshots=short,
        worst_shortfall=worst,
        useful_engine_a=useful_engine,
        useful_optimum_a=useful_optimum,
    )
