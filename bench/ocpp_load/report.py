"""Adding up the simulator workers' counters and writing the benchmark's figures."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ocpp_bridge.simulator.stats import percentile

COUNTERS = (
    "sent",
    "answered",
    "errors",
    "timeouts",
    "interrupted",
    "dropped",
    "connect_failures",
    "server_closes",
)
TOTALS = (
    "connect_attempts",
    "connections",
    "disconnects",
    "connected",
    "max_connected",
    "sampled_values_acked",
    "transaction_values_acked",
    "queued",
    "unsent",
)


def merge(snapshots: list[dict[str, Any]]) -> dict[str, Any]:
    """One snapshot for all workers: counters added, latencies pooled."""
    merged: dict[str, Any] = {}
    for key in COUNTERS:
        total: Counter[str] = Counter()
        for snapshot in snapshots:
            total.update(snapshot.get(key, {}))
        merged[key] = dict(total)
    for key in TOTALS:
        merged[key] = sum(snapshot.get(key, 0) for snapshot in snapshots)
    merged["latencies_ms"] = [x for s in snapshots for x in s.get("latencies_ms", [])]
    return merged


def difference(after: dict[str, Any], before: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Counters of ``after`` minus those of ``before`` (what happened in between)."""
    return {
        key: {
            k: v - before.get(key, {}).get(k, 0)
            for k, v in after.get(key, {}).items()
            if v - before.get(key, {}).get(k, 0)
        }
        for key in COUNTERS
    }


def latency_summary(latencies_ms: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(latencies_ms)
    return {
        "samples": len(ordered),
        "p50_ms": percentile(ordered, 0.50),
        "p90_ms": percentile(ordered, 0.90),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else None,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The figures as the tables of docs/benchmarks.md."""
    lines = [
        "| phase | s | connected | answered msgs | msg/s | p50 ms | p90 ms | p99 ms | max ms | "
        "errors | timeouts | bridge CPU % | workers CPU % | PostgreSQL+Redis CPU % | "
        "bridge RSS MB | machine busy % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in result["phases"]:
        counts = phase["counts"]
        lat = phase["latency"]
        answered = sum(counts["answered"].values())
        lines.append(
            f"| {phase['name']} | {phase['seconds']:.0f} | {phase['connected']} | {answered} | "
            f"{phase['messages_per_s']:.0f} | {_ms(lat['p50_ms'])} | {_ms(lat['p90_ms'])} | "
            f"{_ms(lat['p99_ms'])} | {_ms(lat['max_ms'])} | {sum(counts['errors'].values())} | "
            f"{sum(counts['timeouts'].values())} | {phase['bridge_cpu_percent']:.0f} | "
            f"{phase['workers_cpu_percent']:.0f} | {phase.get('services_cpu_percent', 0):.0f} | "
            f"{phase['bridge_rss_mb']:.0f} | {phase['machine_busy_percent']:.0f} |"
        )
    loss = result["loss"]
    final = result["final"]
    extras = [
        f"{phase['name']}: {key.replace('_', ' ')} {value}"
        for phase in result["phases"]
        for key, value in phase.items()
        if key.startswith("seconds_to")
    ]
    lines += [
        "",
        f"- {'; '.join(extras)}.",
        f"- Connection attempts refused or failed: {final['connect_failures'] or 0}; "
        f"connections closed by the bridge: {final['server_closes'] or 0}.",
        f"- Calls sent: {loss['calls_sent']}, answered: {loss['calls_answered']}, CallErrors: "
        f"{loss['call_errors']}, without any answer: {loss['calls_without_answer']} "
        f"(timeouts {loss['timeouts']}, interrupted by a dropped connection and resent "
        f"{loss['interrupted']}); transaction messages given up: {loss['dropped']}, still "
        f"queued at the end: {loss['unsent']}.",
        f"- Meter values: {loss['sampled_values_acked']} sampled values acknowledged "
        f"(+{loss['transaction_values_acked']} in StopTransaction), "
        f"{loss['meter_value_rows']} MeterValue rows in the database "
        f"(missing: {loss['rows_missing']}, extra: {loss['rows_extra']}).",
        f"- Sessions: {loss['starts_answered']} StartTransaction answered, "
        f"{loss['sessions_started']} sessions in the database.",
        f"- Bridge peak RSS (VmHWM): {result['bridge_peak_rss_mb']:.0f} MB; "
        f"connections held at most: {result['max_connected']}.",
    ]
    return "\n".join(lines)
