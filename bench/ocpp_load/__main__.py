"""OCPP load benchmark: thousands of simulated chargers against one bridge process.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench -- \\
        .venv/bin/python -m bench.ocpp_load --chargers 10000 --duration 300

It registers BENCH-00001... in the database (bulk, one password), starts ``manage.py run_bridge``
on 127.0.0.1, and simulator workers (``python -m ocpp_bridge.simulator --control``, ~3,300
chargers each), then runs the phases: ramp (every charger connects, boots, starts a session;
MeterValues every 60 s, heartbeats at the bridge's 300 s), hold (``--duration`` s), burst (extra
MeterValues up to ``--burst-rate`` msg/s in total), reconnect storm (every charger drops and is
back within ``--storm-window`` s, replaying what it measured meanwhile), settle, and a drained
stop. It reports connections held, messages per second, round-trip latency (Call sent ->
CallResult received, measured in the workers), the bridge's CPU and memory (/proc), and losses:
Calls without an answer, and MeterValue rows in the database against the sampled values the
bridge acknowledged. Loopback only; bounded by ``--max-seconds``; it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import django

from bench.ocpp_load import processes, report
from bench.ocpp_load.processes import Usage, Worker
from ocpp_bridge.simulator.fleet import synthetic_spec

MAX_CHARGERS = 20_000


PER_WORKER = 3_334
PASSWORD = "bench-ocpp-load-password"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ocpp_load", description=__doc__)
    add = parser.add_argument
    add("--chargers", type=int, default=10_000)
    add("--duration", type=float, default=300, help="hold phase, s")
    add("--ramp", type=float, default=None, help="connect everyone within N s (default N/33)")
    add("--workers", type=int, default=None, help=f"simulator processes (~{PER_WORKER} each)")
    add("--meter-interval", type=int, default=60, help="MeterValueSampleInterval, s")
    add("--burst-rate", type=float, default=1000, help="extra msg/s in total during the burst")
    add("--burst-duration", type=float, default=60)
    add("--storm-window", type=float, default=60, help="everyone reconnects within N s")
    add("--settle", type=float, default=30, help="s after the storm before stopping")
    add("--port", type=int, default=9400)
    add("--seed", type=int, default=1)
    add("--max-seconds", type=float, default=3600, help="hard limit of the whole run")
    add("--output", type=Path, default=Path("var/bench/ocpp_load.json"))
    add("--profile", action="store_true", help="cProfile the bridge and workers (*.prof files)")
    args = parser.parse_args(argv)
    if not 1 <= args.chargers <= MAX_CHARGERS:
        parser.error(f"--chargers must be 1 to {MAX_CHARGERS}")
    args.workers = args.workers or math.ceil(args.chargers / PER_WORKER)
    args.ramp = args.ramp if args.ramp is not None else max(5.0, args.chargers / 33)
    return args


def raise_file_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        print(f"warning: only {target} file descriptors allowed, {needed} wanted", file=sys.stderr)
    return target


def code_fingerprint() -> dict[str, str]:
    """Short SHA-256 of each bridge module (the simulator's excluded)."""
    folder = Path(__file__).resolve().parents[2] / "ocpp_bridge"
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(folder.glob("*.py"))
    }


def worker_arguments(args: argparse.Namespace, first: int, count: int) -> list[str]:
    return [
        "--prefix", "BENCH-", "--first", str(first), "--count", str(count),
        "--password", PASSWORD, "--url", f"ws://127.0.0.1:{args.port}/ocpp",
        "--ramp", str(args.ramp), "--meter-interval", str(args.meter_interval),
        "--heartbeat", "300", "--ws-ping", "0", "--no-validate", "--occupancy", "1",
        "--dwell", "6000", "6000", "--tick", "15", "--report-every", "3600",
        "--timeout", "30", "--seed", str(args.seed + first), "--log-level", "WARNING",
    ]  # fmt: skip


class Run:
    """The running benchmark: its processes, and the figures of each phase."""

    def __init__(self, args: argparse.Namespace, bridge_pid: int, workers: list[Worker]) -> None:
        self.args = args
        self.bridge_pid = bridge_pid
        self.workers = workers
        self.phases: list[dict[str, Any]] = []
        self.pids = [bridge_pid] + [w.process.pid for w in workers]
        self.last = report.merge([])
        self.phase_started = time.monotonic()
        self.usage = Usage.now(self.pids)
        self.max_connected = 0

    async def stats(self, *, reset: bool = False, latencies: bool = True) -> dict[str, Any]:
        command = {"cmd": "stats", "reset": reset, "latencies": latencies}
        replies = await asyncio.gather(*(w.ask(command) for w in self.workers))
        merged = report.merge(list(replies))
        self.max_connected = max(self.max_connected, merged["max_connected"])
        return merged

    async def until(self, condition: Any, timeout_s: float) -> float:
        """Poll the workers until ``condition(stats)``; return the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if condition(await self.stats(latencies=False)):
                break
            await asyncio.sleep(2)
        return time.monotonic() - started

    async def close_phase(self, name: str, **extra: Any) -> dict[str, Any]:
        now = await self.stats(reset=True)
        usage = Usage.now(self.pids)
        seconds = time.monotonic() - self.phase_started
        counts = report.difference(now, self.last)
        cpu = usage.since(self.usage)
        memory = processes.memory_kb(self.bridge_pid)
        workers_cpu = sum(v for pid, v in cpu["cpu_percent"].items() if pid != self.bridge_pid)
        phase = {
            "name": name,
            "seconds": seconds,
            "connected": now["connected"],
            "counts": counts,
            "messages_per_s": sum(counts["answered"].values()) / max(seconds, 1e-6),
            "latency": report.latency_summary(now["latencies_ms"]),
            "bridge_cpu_percent": cpu["cpu_percent"].get(self.bridge_pid, 0.0),
            "workers_cpu_percent": round(workers_cpu, 1),
            "services_cpu_percent": cpu["services_cpu_percent"],
            "machine_busy_percent": cpu["machine_busy_percent"],
            "bridge_rss_mb": memory.get("VmRSS", 0) / 1024,
            **extra,
        }
        self.phases.append(phase)
        self.last, self.usage, self.phase_started = now, usage, time.monotonic()
        lat = phase["latency"]
        print(
            f"[bench] {name}: {seconds:.0f} s, {now['connected']} connected, "
            f"{phase['messages_per_s']:.0f} msg/s, p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
            f"bridge CPU {phase['bridge_cpu_percent']}%, RSS {phase['bridge_rss_mb']:.0f} MB",
            flush=True,
        )
        return phase

    async def phases_run(self) -> None:
        from bench.ocpp_load.registry import identity  # Django is set up by now

        n, args = self.args.chargers, self.args
        connectors = sum(synthetic_spec(identity(i), PASSWORD).connectors for i in range(1, n + 1))
        await self.stats(reset=True, latencies=False)
        took = await self.until(
            lambda s: (
                s["connected"] >= n and s["answered"].get("StartTransaction", 0) >= connectors
            ),
            args.ramp + 240,
        )
        await self.close_phase("ramp", seconds_to_all_connected_and_charging=round(took, 1))
        await asyncio.sleep(args.duration)
        await self.close_phase("hold")
        rate = args.burst_rate / len(self.workers)
        command = {"cmd": "burst", "rate": rate, "duration": args.burst_duration}
        await asyncio.gather(*(w.ask(command) for w in self.workers))
        await asyncio.sleep(args.burst_duration)
        await self.close_phase("burst", extra_rate_requested=args.burst_rate)
        before = await self.stats(latencies=False)
        await asyncio.gather(
            *(w.ask({"cmd": "storm", "window": args.storm_window}) for w in self.workers)
        )
        took = await self.until(
            lambda s: s["connections"] >= before["connections"] + n and s["connected"] >= n,
            args.storm_window + 240,
        )
        await self.close_phase("storm", seconds_to_all_reconnected=round(took, 1))
        await asyncio.sleep(args.settle)
        await self.close_phase("settle")


async def load(args: argparse.Namespace, bridge_pid: int, var: Path) -> dict[str, Any]:
    workers: list[Worker] = []
    per_worker = math.ceil(args.chargers / args.workers)
    for index in range(args.workers):
        first = 1 + index * per_worker
        count = min(per_worker, args.chargers - first + 1)
        log_path = var / f"ocpp_load-worker-{index}.log"
        profile = var / f"worker-{index}.prof" if args.profile else None
        workers.append(
            await Worker.start(index, worker_arguments(args, first, count), log_path, profile)
        )
    run = Run(args, bridge_pid, workers)
    try:
        await run.phases_run()
        finals = await asyncio.gather(
            *(w.ask({"cmd": "stop", "drain": 120}, timeout=300) for w in workers)
        )
    finally:
        for worker in workers:
            processes.stop_process(worker.process, timeout=10)
    final = report.merge(list(finals))
    return {"phases": run.phases, "final": final, "max_connected": run.max_connected}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from bench.ocpp_load import registry

    call_command("migrate", "--noinput", verbosity=0)  # a fresh --var folder has no tables

    var = args.output.parent
    var.mkdir(parents=True, exist_ok=True)
    limit = raise_file_limit(args.chargers + 2048)
    if processes.port_open(args.port):
        print(f"port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 2
    started = time.monotonic()
    created = registry.ensure_chargers(args.chargers, PASSWORD)
    setup_s = time.monotonic() - started
    print(f"[bench] {created} chargers created in {setup_s:.1f} s", flush=True)
    bench_start = datetime.now(UTC) - timedelta(seconds=1)
    bridge_code = code_fingerprint()  # the bridge is still being written: say which one ran
    bridge = processes.start_bridge(
        args.port, var / "ocpp_load-bridge.log", var / "bridge.prof" if args.profile else None
    )
    try:
        result = asyncio.run(asyncio.wait_for(load(args, bridge.pid, var), args.max_seconds))
        peak = processes.memory_kb(bridge.pid).get("VmHWM", 0) / 1024
    finally:
        processes.stop_process(bridge, timeout=120)  # SIGTERM: it flushes its buffers first
    database = registry.counts_since(bench_start, args.chargers)
    final = result["final"]
    expected_rows = final["sampled_values_acked"] + final["transaction_values_acked"]
    sent = sum(final["sent"].values())
    answered = sum(final["answered"].values())
    errors = sum(final["errors"].values())
    result.update(
        config={
            **{k: str(v) for k, v in vars(args).items()},
            "file_limit": limit,
            "registered": created,
            "bridge_code": bridge_code,
            "setup_s": round(setup_s, 1),
        },
        database=database,
        bridge_peak_rss_mb=peak,
        loss={
            "calls_sent": sent,
            "calls_answered": answered,
            "call_errors": errors,
            "calls_without_answer": sent - answered - errors,
            "timeouts": sum(final["timeouts"].values()),
            "interrupted": sum(final["interrupted"].values()),
            "dropped": sum(final["dropped"].values()),
            "unsent": final["unsent"],
            "sampled_values_acked": final["sampled_values_acked"],
            "transaction_values_acked": final["transaction_values_acked"],
            "meter_value_rows": database["meter_value_rows"],
            "rows_missing": max(0, expected_rows - database["meter_value_rows"]),
            "rows_extra": max(0, database["meter_value_rows"] - expected_rows),
            "starts_answered": final["answered"].get("StartTransaction", 0),
            "sessions_started": database["sessions_started"],
        },
    )
    result["final"].pop("latencies_ms", None)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    print(report.markdown(result))
    print(f"[bench] details in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
