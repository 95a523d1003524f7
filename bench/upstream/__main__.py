"""Upstream bridge benchmark: bridged chargers on one bridge process, relayed to a local upstream.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-upstream -- \\
        .venv/bin/python -m bench.upstream --chargers 1000

It registers BENCH-00001... (``bench.ocpp_load.registry``), starts ``manage.py run_bridge`` and
a light upstream central system (``ocpp_bridge.demo_upstream``, its own process), and drives the
chargers itself (plain websockets, one asyncio process). Phases:

1. **unbridged**: every charger connects, boots and starts a transaction; the bridge's memory.
2. **bridged**: upstream settings for every bench installation (``upstream.outbox
   .settings_changed``); every charger's link connects and boots upstream; the bridge's memory
   again: the difference per charger is the memory of a bridged charger.
3. **relay**: for ``--relay-seconds``, each charger sends a transaction MeterValues and a
   StatusNotification every ``--interval`` s; the added latency of a relayed message is the
   time upstream received it minus the time the charger sent it (one clock: one machine).
4. **outage**: upstream is stopped for ``--outage`` s while the chargers go on (MeterValues
   every ``--outage-interval`` s, then a StopTransaction and a new StartTransaction), so the
   transaction messages queue durably; upstream returns, and the replay rate is the queued
   messages delivered per second until the queue is empty.
Figures go to stdout and ``--output`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.ocpp_load import processes

PASSWORD = "bench-upstream-password"
TARGET_EMPTY_S = 60.0  # the queue empty within this long of upstream's return
CALL, RESULT, ERROR = 2, 3, 4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.upstream", description=__doc__)
    add = parser.add_argument
    add("--chargers", type=int, default=1000)
    add("--port", type=int, default=9600, help="the bridge's; upstream gets port + 1")
    add("--interval", type=float, default=10, help="relay phase: s between a charger's messages")
    add("--relay-seconds", type=float, default=60)
    add("--outage", type=float, default=600, help="s upstream is down")
    add("--outage-interval", type=float, default=60, help="MeterValues every N s meanwhile")
    add("--output", type=Path, default=Path("var/bench-upstream.json"))
    add("--max-seconds", type=float, default=3600)
    return parser.parse_args(argv)


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class Charger:
    """One simulated charger: a websocket, its calls in flight, its transaction."""

    identity: str
    connection: ClientConnection | None = None
    pending: dict[str, asyncio.Future[Any]] = field(default_factory=dict)
    transaction_id: int | None = None
    register_wh: int = 0
    status_toggle: bool = False
    reader: asyncio.Task[None] | None = None

    async def open(self, port: int) -> None:
        token = base64.b64encode(f"{self.identity}:{PASSWORD}".encode()).decode()
        self.connection = await connect(
            f"ws://127.0.0.1:{port}/ocpp/{self.identity}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Basic {token}"},
            ping_interval=None,
            open_timeout=60,
        )
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        assert self.connection is not None
        try:
            async for raw in self.connection:
                message = json.loads(raw)
                if message[0] == CALL:  # the bridge's commands: accept them all
                    reply: dict[str, Any] = {"status": "Accepted"}
                    if message[2] == "GetConfiguration":
                        reply = {"configurationKey": []}
                    elif message[2] in ("GetLocalListVersion",):
                        reply = {"listVersion": 0}
                    await self.connection.send(json.dumps([RESULT, message[1], reply]))
                elif (future := self.pending.pop(message[1], None)) and not future.done():
                    future.set_result(message[2] if message[0] == RESULT else None)
        except websockets.ConnectionClosed:
            pass

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        assert self.connection is not None
        unique_id = f"{next(_ids)}"
        future = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        await self.connection.send(json.dumps([CALL, unique_id, action, payload]))
        return await asyncio.wait_for(future, 60)

    async def boot_and_start(self) -> None:
        await self.call(
            "BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Upstream"}
        )
        await self.status("Preparing", "")
        answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "BENCHCARD", "meterStart": self.register_wh,
             "timestamp": now_text()},
        )  # fmt: skip
        self.transaction_id = answer["transactionId"]
        await self.status("Charging", "")

    async def status(self, status: str, info: str) -> None:
        payload = {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": status,
            "timestamp": now_text(),
        }
        if info:
            payload["info"] = info
        await self.call("StatusNotification", payload)

    async def meter(self) -> int:
        self.register_wh += 100
        await self.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": self.transaction_id,
                "meterValue": [
                    {
                        "timestamp": now_text(),
                        "sampledValue": [
                            {"value": str(self.register_wh), "unit": "Wh",
                             "measurand": "Energy.Active.Import.Register"}
                        ],
                    }
                ],
            },
        )  # fmt: skip
        return self.register_wh

    async def restart_transaction(self) -> None:
        await self.call(
            "StopTransaction",
            {"transactionId": self.transaction_id, "meterStop": self.register_wh,
             "timestamp": now_text(), "reason": "Local"},
        )  # fmt: skip
        answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "BENCHCARD", "meterStart": self.register_wh,
             "timestamp": now_text()},
        )  # fmt: skip
        self.transaction_id = answer["transactionId"]


_ids = itertools.count(1)


def read_record(path: Path) -> list[tuple[int, str, str, str]]:
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            lines.append((int(parts[0]), parts[1], parts[2], parts[3]))
    return lines


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


class Bench:
    def __init__(self, args: argparse.Namespace, bridge_pid: int, var: Path) -> None:
        self.args = args
        self.bridge_pid = bridge_pid
        self.var = var
        self.record = var / "bench-upstream-central.log"
        self.record.unlink(missing_ok=True)
        self.central: subprocess.Popen[bytes] | None = None
        self.result: dict[str, Any] = {}

    def start_central(self) -> None:
        port = self.args.port + 1
        self.central = subprocess.Popen(
            [sys.executable, "-m", "ocpp_bridge.demo_upstream", "--port", str(port),
             "--record", str(self.record)],
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not processes.port_open(port):
            if time.monotonic() > deadline:
                raise RuntimeError("the upstream central system did not start")
            time.sleep(0.1)

    def stop_central(self) -> None:
        if self.central is not None:
            processes.stop_process(self.central, timeout=10)
            self.central = None

    def rss_mb(self) -> float:
        return processes.memory_kb(self.bridge_pid).get("VmRSS", 0) / 1024

    async def until(self, condition: Any, timeout_s: float, what: str) -> float:
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"timed out waiting for {what}")
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    def received(self, action: str) -> list[tuple[int, str, str, str]]:
        return [row for row in read_record(self.record) if row[2] == action]

    async def run(self, chargers: list[Charger]) -> dict[str, Any]:
        from bench.upstream import setup

        args = self.args
        await gather_limited([c.open(args.port) for c in chargers], 200)
        await gather_limited([c.boot_and_start() for c in chargers], 200)
        await asyncio.sleep(5)
        unbridged_mb = self.rss_mb()
        print(f"[bench] {len(chargers)} chargers charging, unbridged: RSS {unbridged_mb:.0f} MB")

        self.start_central()
        await asyncio.to_thread(setup.bridge_all, f"ws://127.0.0.1:{args.port + 1}/ocpp")
        took = await self.until(
            lambda: len({r[1] for r in self.received("BootNotification")}) >= len(chargers),
            300,
            "every link's boot upstream",
        )
        await asyncio.sleep(5)
        bridged_mb = self.rss_mb()
        per_charger_kb = (bridged_mb - unbridged_mb) * 1024 / len(chargers)
        print(
            f"[bench] every link booted upstream in {took:.1f} s; RSS {bridged_mb:.0f} MB "
            f"({per_charger_kb:.0f} kB per bridged charger)"
        )
        self.result["memory"] = {
            "unbridged_rss_mb": round(unbridged_mb, 1),
            "bridged_rss_mb": round(bridged_mb, 1),
            "per_bridged_charger_kb": round(per_charger_kb, 1),
            "seconds_to_all_linked": round(took, 1),
        }
        # Sessions that began before the charger was bridged are not upstream's: start anew.
        await gather_limited([c.restart_transaction() for c in chargers], 200)
        await self.until(
            lambda: len({r[1] for r in self.received("StartTransaction")}) >= len(chargers),
            300,
            "every charger's StartTransaction upstream",
        )
        # The relay is timed in the steady state: every StartTransaction answered and marked
        # (so upstream's ids are known), and the node's database lanes drained.
        deadline = time.monotonic() + 300
        while await asyncio.to_thread(setup.queued_messages) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError("timed out waiting for every queued message delivered")
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)
        self.result["relay"] = await self.relay(chargers)
        self.result["outage"] = await self.outage(chargers)
        return self.result

    async def relay(self, chargers: list[Charger]) -> dict[str, Any]:
        args = self.args
        sent: dict[tuple[str, str, str], int] = {}

        async def one(charger: Charger) -> None:
            await asyncio.sleep(random.uniform(0, args.interval))
            deadline = time.monotonic() + args.relay_seconds
            while time.monotonic() < deadline:
                started = time.time_ns()
                value = await charger.meter()
                sent[(charger.identity, "MeterValues", str(value))] = started
                charger.status_toggle = not charger.status_toggle
                status = "SuspendedEV" if charger.status_toggle else "Charging"
                info = f"b{next(_ids)}"
                started = time.time_ns()
                await charger.status(status, info)
                sent[(charger.identity, "StatusNotification", f"1:{status}:{info}")] = started
                await asyncio.sleep(args.interval)

        await asyncio.gather(*(one(c) for c in chargers))
        await asyncio.sleep(10)  # the last ones arrive
        latencies: dict[str, list[float]] = {"MeterValues": [], "StatusNotification": []}
        for received_ns, identity, action, key in read_record(self.record):
            if action == "MeterValues":
                key = key.split(":", 1)[-1]
            started = sent.get((identity, action, key))
            if started is not None:
                latencies[action].append((received_ns - started) / 1e6)
        figures: dict[str, Any] = {"sent": len(sent)}
        for action, values in latencies.items():
            figures[action] = {
                "relayed": len(values),
                "p50_ms": round(percentile(values, 0.5), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1) if values else None,
                "mean_ms": round(statistics.fmean(values), 1) if values else None,
            }
            print(f"[bench] relay {action}: {figures[action]}")
        return figures

    async def outage(self, chargers: list[Charger]) -> dict[str, Any]:
        from bench.upstream import setup

        args = self.args
        before = len(read_record(self.record))
        self.stop_central()
        rounds = max(1, int(args.outage / args.outage_interval))
        print(f"[bench] upstream down for {args.outage:.0f} s ({rounds} MeterValues each)")

        async def one(charger: Charger) -> None:
            await asyncio.sleep(random.uniform(0, args.outage_interval))
            for _ in range(rounds):
                await charger.meter()
                await asyncio.sleep(args.outage_interval)
            await charger.restart_transaction()

        await asyncio.gather(*(one(c) for c in chargers))
        await asyncio.sleep(3)  # the bridge's writes behind the answers
        queued = await asyncio.to_thread(setup.queued_messages)
        print(f"[bench] {queued} transaction messages queued; upstream returns")
        started = time.monotonic()
        returned_ns = time.time_ns()
        self.start_central()
        while await asyncio.to_thread(setup.queued_messages) > 0:
            if time.monotonic() - started > args.outage + 600:
                raise RuntimeError("timed out waiting for the queue to empty")
            await asyncio.sleep(0.5)
        took = time.monotonic() - started
        delivered = len(read_record(self.record)) - before
        # The first links come back within their reconnection backoff (full jitter, capped at
        # 2 min); once one has, the others to the same central system retry within a few
        # seconds (ocpp_bridge.upstream.manager, ``reached``). Per link, its queue is drained
        # from its boot to its last transaction message.
        booted: dict[str, int] = {}
        last: dict[str, int] = {}
        first_tx = last_tx = 0
        replayed = 0
        for received_ns, identity, action, _ in read_record(self.record):
            if received_ns < returned_ns:
                continue
            if action == "BootNotification":
                booted.setdefault(identity, received_ns)
            elif action in ("StartTransaction", "StopTransaction", "MeterValues"):
                last[identity] = received_ns
                first_tx = first_tx or received_ns
                last_tx = received_ns
                replayed += 1
        drains = [(last[i] - booted[i]) / 1e9 for i in last if i in booted]
        window_s = max((last_tx - first_tx) / 1e9, 1e-6)
        back = sorted(booted.values())
        figures = {
            "outage_s": args.outage,
            "queued": queued,
            "replayed": replayed,
            "seconds_to_empty": round(took, 1),
            "seconds_until_first_link_back": round(
                ((back[0] if back else returned_ns) - returned_ns) / 1e9, 1
            ),
            "seconds_until_every_link_back": round(
                (max(booted.values(), default=returned_ns) - returned_ns) / 1e9, 1
            ),
            "per_link_drain_p50_s": round(percentile(drains, 0.5), 2),
            "per_link_drain_p99_s": round(percentile(drains, 0.99), 2),
            "replay_per_s_overall": round(replayed / window_s),
            "upstream_received_after_return": delivered,
        }
        print(f"[bench] replay: {figures}")
        verdict = "met" if took <= TARGET_EMPTY_S else "MISSED"
        print(
            f"[bench] queue empty {took:.1f} s after upstream returned (target {TARGET_EMPTY_S:.0f} s: {verdict})"
        )
        return figures


async def gather_limited(coroutines: list[Any], limit: int) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def guarded(coroutine: Any) -> None:
        async with semaphore:
            await coroutine

    await asyncio.gather(*(guarded(c) for c in coroutines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("UPSTREAM_ALLOW_LOCAL", "true")
    django.setup()
    from django.core.management import call_command

    from bench.ocpp_load import registry
    from bench.ocpp_load.__main__ import raise_file_limit
    from bench.upstream import setup

    call_command("migrate", "--noinput", verbosity=0)
    var = args.output.parent
    var.mkdir(parents=True, exist_ok=True)
    raise_file_limit(3 * args.chargers + 2048)
    registry.ensure_chargers(args.chargers, PASSWORD)
    setup.unbridge_all()
    bridge = processes.start_bridge(args.port, var / "bench-upstream-bridge.log")
    bench = Bench(args, bridge.pid, var)
    chargers = [Charger(registry.identity(n)) for n in range(1, args.chargers + 1)]
    try:
        result = asyncio.run(asyncio.wait_for(bench.run(chargers), args.max_seconds))
    finally:
        bench.stop_central()
        processes.stop_process(bridge, timeout=60)
        setup.unbridge_all()
    result["config"] = {k: str(v) for k, v in vars(args).items()}
    args.output.write_text(json.dumps(result, indent=2))
    print(f"[bench] details in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
