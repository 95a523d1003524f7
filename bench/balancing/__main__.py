"""``python -m bench.balancing [--quick]``: print the balancing engine's figures.

1. solve time against charger count (median and p95);
2. the engine against exact references (MILP optimum, LP max-min fair split) on random small
   sites and on the hard cases of issue #11 (`bench.balancing.optimality`);
3. a simulated office day, engine next to a naive equal split.

``--quick`` runs fewer repetitions and snapshots (for a smoke test); the figures in
docs/benchmarks.md come from the full run.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable

from bench.balancing import optimality, simulation, timing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.balancing")
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    args = parser.parse_args(argv)
    runs, snapshots = (5, 100) if args.quick else (30, 2000)
    started = time.perf_counter()
    print(f"Python {platform.python_version()} on {platform.machine()}, {_cpu()}")

    print(f"\n1. Solve time (JSON dict in and out), {runs} runs each after a warm-up")
    print(
        f"{'chargers':>9} {'circuits':>9} {'median ms':>10} {'p95 ms':>8} {'of which':>9} "
        f"{'charging':>9} {'paused':>7}"
    )
    print(f"{'':>9} {'':>9} {'':>10} {'':>8} {'parse ms':>9}")
    for row in timing.run(runs=runs):
        print(
            f"{row.chargers:>9} {row.circuits:>9} {row.median_ms:>10.1f} {row.p95_ms:>8.1f} "
            f"{row.parse_median_ms:>9.1f} {row.charging:>9} {row.paused:>7}  {row.label}"
        )

    print(
        f"\n2. Against exact references (scipy HiGHS), {snapshots} random small sites, "
        f"{snapshots} hard sites, {snapshots // 10} mid-size sites"
    )
    figures = optimality.run(snapshots=snapshots)
    _print_optimality(figures)

    print(
        f"\n3. Office car park day: {simulation.ROWS * simulation.BAYS_PER_ROW} chargers, "
        f"{simulation.MAIN_LIMIT_A:.0f} A main, {simulation.ROWS} rows of "
        f"{simulation.ROW_LIMIT_A:.0f} A, step {simulation.STEP_S} s, 06:00-20:00"
    )
    reports = [
        simulation.simulate(simulation.engine_balancer, "engine"),
        simulation.simulate(simulation.equal_split_balancer, "equal split"),
    ]
    header = ("", "delivered", "of ideal", "left on", "needs", "overload", "longest", "longest")
    second = ("", "kWh", "", "table kWh", "met", "events", "wait min", "wait, unmet")
    for line in (header, second):
        print("   {:<12} {:>10} {:>9} {:>10} {:>6} {:>9} {:>9} {:>12}".format(*line), end="")
        print(" {:>6} {:>8}".format(*(("Jain", "limit") if line is header else ("", "changes"))))
    for report in reports:
        print(
            f"   {report.name:<12} {report.delivered_kwh:>10.0f} "
            f"{report.delivered_kwh / report.ideal_kwh:>9.1%} {report.stranded_kwh:>10.0f} "
            f"{report.fully_charged:>3}/{report.cars:<2} {report.overload_events:>9} "
            f"{report.longest_wait_min:>9.0f} {report.longest_wait_unmet_min:>12.0f} "
            f"{report.jain_index:>6.3f} {report.limit_changes:>8}"
        )
    print(f"   ideal (unlimited fuses): {reports[0].ideal_kwh:.0f} kWh")
    print(f"\nTotal bench time: {time.perf_counter() - started:.0f} s")
    return 0


def _print_optimality(figures: optimality.Optimality) -> None:
    columns = [*figures.families, figures.total]
    print("   " + " " * 44 + "".join(f"{family.name:>14}" for family in columns))

    def line(label: str, cell: Callable[[optimality.Family], str]) -> None:
        print(f"   {label:<44}" + "".join(f"{cell(family):>14}" for family in columns))

    line("snapshots", lambda family: f"{family.snapshots}")
    line("cars wanting current", lambda family: f"{family.cars_wanting}")
    line(
        "cars served, engine / optimum",
        lambda family: f"{family.served_engine}/{family.served_optimum}",
    )
    line(
        "snapshots served = optimum (every priority)",
        lambda family: _share(family.exact_snapshots, family),
    )
    line("worst shortfall (cars)", lambda family: f"{family.worst_shortfall}")
    line(
        "strict-priority violations (snapshots)",
        lambda family: f"{len(family.priority_violations)}",
    )
    line("overloads (snapshots)", lambda family: f"{len(family.overloads)}")
    line(
        "max-min fair within 0.1 A (no hysteresis)",
        lambda family: _share(family.fair_snapshots, family),
    )
    line(
        "max-min fair within 0.1 A (as sent)",
        lambda family: _share(family.fair_sent_snapshots, family),
    )
    line(
        "worst difference from the fair split (A)",
        lambda family: f"{family.worst_unfair_da / 10:.1f}",
    )
    small = figures.families[0]
    print(
        f"   small sites: optimum if cars may be raised above their minimum to meet an imbalance "
        f"limit: {small.served_optimum_raising}; useful current, engine / max-throughput "
        f"optimum: {small.useful_engine_a:.0f} A / {small.useful_optimum_a:.0f} A "
        f"= {small.useful_engine_a / max(small.useful_optimum_a, 1e-9):.3f}"
    )
    for family in figures.families:
        for label, seeds in (
            ("short", family.short_snapshots),
            ("priority", family.priority_violations),
            ("overload", family.overloads),
            ("unfair", family.unfair_seeds),
        ):
            if seeds:
                shown = ", ".join(str(seed) for seed in seeds[:12])
                more = f" (+{len(seeds) - 12})" if len(seeds) > 12 else ""
                print(f"   {family.name}, {label} seeds: {shown}{more}")


def _share(count: int, family: optimality.Family) -> str:
    return f"{100 * count / max(family.snapshots, 1):.2f} %"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
