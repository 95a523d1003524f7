"""What a fleet of simulated chargers did: connections, calls and their round-trip times.

One ``Stats`` per process, shared by its chargers (one asyncio loop, no locks needed). A snapshot
is a plain dict, so the load benchmark can collect it over a pipe and add up several processes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


class Stats:
    """Counters of one process; latencies are kept until ``snapshot(reset_latencies=True)``."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()  # Calls written to the websocket, by action
        self.answered: Counter[str] = Counter()  # CallResult received
        self.errors: Counter[str] = Counter()  # CallError received
        self.timeouts: Counter[str] = Counter()  # nothing within the response timeout
        self.interrupted: Counter[str] = Counter()  # the connection dropped while waiting
        self.dropped: Counter[str] = Counter()  # transaction messages given up after retries
        self.connect_attempts = 0
        self.connect_failures: Counter[str] = Counter()
        self.server_closes: Counter[str] = (
            Counter()
        )  # connections the central system closed, by code
        self.connections = 0
        self.disconnects = 0
        self.connected = 0
        self.max_connected = 0
        self.sampled_values_acked = 0  # sampledValue entries of answered MeterValues
        self.transaction_values_acked = 0  # ... and of answered StopTransaction transactionData
        self.latencies: list[float] = []

    def on_connect(self) -> None:
        self.connections += 1
        self.connected += 1
        self.max_connected = max(self.max_connected, self.connected)

    def on_disconnect(self) -> None:
        self.disconnects += 1
        self.connected -= 1

    def on_answer(self, action: str, latency_s: float) -> None:
        self.answered[action] += 1
        self.latencies.append(latency_s)

    def snapshot(
        self, *, reset_latencies: bool = False, queued: int = 0, latencies: bool = True
    ) -> dict[str, Any]:
        result = {
            "sent": dict(self.sent),
            "answered": dict(self.answered),
            "errors": dict(self.errors),
            "timeouts": dict(self.timeouts),
            "interrupted": dict(self.interrupted),
            "dropped": dict(self.dropped),
            "connect_attempts": self.connect_attempts,
            "connect_failures": dict(self.connect_failures),
            "server_closes": dict(self.server_closes),
            "connections": self.connections,
            "disconnects": self.disconnects,
            "connected": self.connected,
            "max_connected": self.max_connected,
            "sampled_values_acked": self.sampled_values_acked,
            "transaction_values_acked": self.transaction_values_acked,
            "queued": queued,
        }
        if latencies:
            result["latencies_ms"] = [round(x * 1000, 2) for x in self.latencies]
        if reset_latencies:
            self.latencies = []
        return result

    def summary(self) -> str:
        latencies = sorted(self.latencies)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        timing = f", p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms" if p50 and p99 else ""
        return (
            f"{self.connected} connected (max {self.max_connected}), "
            f"{sum(self.sent.values())} calls, {sum(self.answered.values())} answered, "
            f"{sum(self.errors.values())} errors, {sum(self.timeouts.values())} timeouts"
            f"{timing}"
        )
