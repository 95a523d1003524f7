"""Solve time against the number of chargers, on the seeded depots of `scenarios.depot`."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from balancing.engine import solve
from balancing.engine.model import parse_scenario
from bench.balancing.scenarios import depot

# (chargers, circuits); the last one is the brief's 3,000-charger depot with 100 circuits.
SIZES = ((10, 1), (100, 4), (300, 10), (1000, 33), (3000, 100))


@dataclass(frozen=True)
class Timing:
    """Solve times of one depot size, in milliseconds."""

    chargers: int
    circuits: int
    label: str
    median_ms: float
    p95_ms: float
    parse_median_ms: float
    paused: int
    charging: int


def time_solve(
    chargers: int, circuits: int, *, runs: int, imbalance_a: float | None = None
) -> Timing:
    """Median and 95th percentile of `runs` solves (JSON dict in, dict out) after a warm-up, and
    the median of parsing and validation alone (part of the solve)."""
    snapshot = depot(chargers, circuits, seed=chargers, imbalance_a=imbalance_a)
    result = solve(snapshot)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        solve(snapshot)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    parse_samples = []
    for _ in range(runs):
        started = time.perf_counter()
        parse_scenario(snapshot)
        parse_samples.append((time.perf_counter() - started) * 1000)
    return Timing(
        chargers=chargers,
        circuits=circuits,
        label="imbalance limit 32 A" if imbalance_a is not None else "",
        median_ms=statistics.median(samples),
        p95_ms=samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))],
        parse_median_ms=statistics.median(parse_samples),
        paused=len(result["paused"]),
        charging=sum(1 for item in result["allocations"] if item["current"] > 0),
    )


def run(*, runs: int) -> list[Timing]:
    """Every size, plus the largest one with a phase-imbalance limit."""
    timings = [time_solve(chargers, circuits, runs=runs) for chargers, circuits in SIZES]
    timings.append(time_solve(3000, 100, runs=runs, imbalance_a=32.0))
    return timings
