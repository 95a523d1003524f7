"""Authorization decision benchmark: 200 chargers over websockets sending Authorize to one bridge.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-authorize -- \\
        .venv/bin/python -m bench.authorize

It registers AUTHBENCH-001... at a locked installation (100 drivers: 60 on the whole
installation, 40 on 5 chargers each; a card each, plus blocked and expired cards), starts
``manage.py run_bridge`` on 127.0.0.1 as a subprocess, connects every charger (HTTP Basic,
``ocpp1.6``), and measures Authorize round trips (Call written -> CallResult read, in this
process) with local decisions: every answer is checked against the expected status, and every
decision must be recorded (AuthorizationRecord). Phases:

1. **rate R/s** (``--rates``): Poisson arrivals at R Authorize per second in total, each from an
   idle charger, for ``--duration`` seconds: the latency a driver sees at that load.
2. **burst**: all chargers send an Authorize at the same instant, ``--bursts`` times; then the
   same with Heartbeat, which the bridge answers without the database: the floor of the bridge's
   and this process's own message handling under any decision.
3. **saturation**: every charger sends back to back for ``--saturate`` seconds: the most
   decisions per second one bridge makes, and the queueing that costs.

The idTags: 70 % cards permitted on the charger, 10 % cards of drivers not permitted there,
5 % blocked, 5 % expired, 10 % unknown (recorded as seen cards).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import django

PASSWORD = "bench-authorize-password"
PREFIX = "AUTHBENCH-"
SITE_NAME = "Authorize bench"
OWNER_EMAIL = "authbench-owner@bench.test"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.authorize", description=__doc__)
    add = parser.add_argument
    add("--chargers", type=int, default=200)
    add("--rates", default="50,100,200,400", help="Authorize/s of the open-loop phases")
    add("--duration", type=float, default=20, help="seconds per rate")
    add("--bursts", type=int, default=5)
    add("--saturate", type=float, default=15, help="seconds of the closed-loop phase")
    add("--port", type=int, default=9410)
    add("--seed", type=int, default=5)
    add("--output", type=Path, default=Path("var/bench/authorize.json"))
    return parser.parse_args(argv)


# --- the installation, chargers, people and cards ----------------------------------------------


@dataclass
class Tag:
    id_tag: str
    expected: dict[str, str]  # charger identity -> status ("*": any charger)

    def status_at(self, identity: str) -> str:
        return self.expected.get(identity, self.expected.get("*", "Invalid"))


def prepare(count: int, seed: int) -> tuple[list[str], dict[str, list[Tag]]]:
    """Create (once) the installation, chargers, drivers and cards; return the identities and
    the idTags by category with the status each charger should answer."""
    from django.db import transaction

    from accounts.models import User
    from auth_access.models import AuthorizationRecord, ChargeCard, ChargerPermission, SeenCard
    from chargers.models import Charger, Connector
    from installations.choices import AuthorizationMode, Role
    from installations.models import Installation, Membership
    from installations.services import create_installation

    rng = random.Random(seed)
    identities = [f"{PREFIX}{n:03d}" for n in range(1, count + 1)]
    with transaction.atomic():
        owner = User.objects.filter(email=OWNER_EMAIL).first() or User.objects.create_user(
            email=OWNER_EMAIL, password=None, name="Bench owner"
        )
        site = Installation.objects.filter(name=SITE_NAME).first() or create_installation(
            owner, name=SITE_NAME, main_fuse_a=4000, authorization_mode=AuthorizationMode.LOCKED
        )
        template = Charger()
        template.set_ocpp_password(PASSWORD)
        existing = set(site.chargers.values_list("ocpp_identity", flat=True))
        new = [
            Charger(installation=site, circuit=site.main_fuse, name=identity,
                    ocpp_identity=identity, ocpp_password_hash=template.ocpp_password_hash)
            for identity in identities if identity not in existing
        ]  # fmt: skip
        Charger.objects.bulk_create(new)
        Connector.objects.bulk_create([Connector(charger=c, connector_id=1) for c in new])
        Charger.objects.filter(installation=site).update(
            ocpp_password_hash=template.ocpp_password_hash
        )
        chargers = {c.ocpp_identity: c for c in site.chargers.filter(ocpp_identity__in=identities)}

        tags: dict[str, list[Tag]] = {"permitted": [], "not_permitted": [], "blocked": [],
                                      "expired": [], "unknown": []}  # fmt: skip
        now = datetime.now(UTC)
        for number in range(1, 101):
            email = f"authbench-driver-{number:03d}@bench.test"
            user = User.objects.filter(email=email).first() or User.objects.create_user(
                email=email, password=None
            )
            everywhere = number <= 60
            membership, _ = Membership.objects.update_or_create(
                user=user, installation=site,
                defaults={"role": Role.DRIVER, "may_charge_everywhere": everywhere},
            )  # fmt: skip
            named = [] if everywhere else rng.sample(identities, 5)
            membership.charger_permissions.all().delete()
            ChargerPermission.objects.bulk_create(
                [ChargerPermission(membership=membership, charger=chargers[i]) for i in named]
            )
            card, _ = ChargeCard.objects.update_or_create(
                id_tag=f"AB-CARD-{number:03d}",
                defaults={"user": user, "is_blocked": False, "expires_at": None},
            )
            if everywhere:
                tags["permitted"].append(Tag(card.id_tag, {"*": "Accepted"}))
            else:
                expected = {identity: "Accepted" for identity in named}
                tags["permitted"].append(Tag(card.id_tag, expected))
                tags["not_permitted"].append(Tag(card.id_tag, expected))
            if number <= 10:
                blocked, _ = ChargeCard.objects.update_or_create(
                    id_tag=f"AB-BLOCKED-{number:03d}", defaults={"user": user, "is_blocked": True}
                )
                tags["blocked"].append(Tag(blocked.id_tag, {"*": "Blocked"}))
                expired, _ = ChargeCard.objects.update_or_create(
                    id_tag=f"AB-EXPIRED-{number:03d}",
                    defaults={"user": user, "expires_at": now - timedelta(days=1)},
                )
                tags["expired"].append(Tag(expired.id_tag, {"*": "Expired"}))
        tags["unknown"] = [Tag(f"AB-STRANGER-{n:03d}", {"*": "Invalid"}) for n in range(1, 51)]
        AuthorizationRecord.objects.filter(installation=site).delete()
        SeenCard.objects.filter(charger__installation=site).delete()
    return identities, tags


def pick(tags: dict[str, list[Tag]], identity: str, rng: random.Random) -> Tag:
    """An idTag of the mix, for the charger ``identity``."""
    roll = rng.random()
    if roll < 0.70:
        candidates = [t for t in tags["permitted"] if t.status_at(identity) == "Accepted"]
        return rng.choice(candidates)
    if roll < 0.80:
        candidates = [t for t in tags["not_permitted"] if t.status_at(identity) == "Invalid"]
        return rng.choice(candidates)
    if roll < 0.85:
        return rng.choice(tags["blocked"])
    if roll < 0.90:
        return rng.choice(tags["expired"])
    return rng.choice(tags["unknown"])


# --- the bridge ----------------------------------------------------------------------------------


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_bridge(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, LOG_LEVEL="INFO")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_bridge", "--host", "127.0.0.1", "--port", str(port),
             "--node-id", "bench-authorize", "--stats-interval", "10"],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the bridge did not start (see {log_path})")
        time.sleep(0.2)
    return process


def stop_bridge(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the chargers --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    wrong: int = 0
    skipped: int = 0  # arrivals with no idle charger
    seconds: float = 0.0
    bridge_cpu_s: float = 0.0
    heartbeats: bool = False  # the floor: no decisions

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 2) if ordered else 0

        return {
            "phase": self.name,
            "decisions": len(ordered),
            "per_s": round(len(ordered) / self.seconds, 1) if self.seconds else 0,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": round(ordered[-1], 2) if ordered else 0,
            "wrong_answers": self.wrong,
            "skipped": self.skipped,
            "bridge_cpu_percent": round(100 * self.bridge_cpu_s / self.seconds, 1)
            if self.seconds
            else 0,
            "statuses": dict(self.statuses),
        }


class BenchCharger:
    """One websocket; one Authorize in flight at a time (as OCPP requires)."""

    def __init__(self, identity: str, websocket: Any) -> None:
        self.identity = identity
        self.websocket = websocket
        self.pending: dict[str, asyncio.Future[list[Any]]] = {}
        self.busy = False
        self.counter = 0
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.websocket:
            message = json.loads(raw)
            future = self.pending.pop(message[1], None)
            if future is not None and not future.done():
                future.set_result(message)

    async def authorize(self, tag: Tag, phase: Phase) -> None:
        reply = await self._call("Authorize", {"idTag": tag.id_tag}, phase)
        status = reply[2]["idTagInfo"]["status"] if reply[0] == 3 else f"error:{reply[2]}"
        phase.statuses[status] += 1
        if status != tag.status_at(self.identity):
            phase.wrong += 1

    async def heartbeat(self, phase: Phase) -> None:
        """A call the bridge answers without the database: the floor under Authorize."""
        reply = await self._call("Heartbeat", {}, phase)
        phase.statuses["answered" if reply[0] == 3 else f"error:{reply[2]}"] += 1
        phase.wrong += reply[0] != 3

    async def _call(self, action: str, payload: dict[str, Any], phase: Phase) -> list[Any]:
        self.busy = True
        self.counter += 1
        unique_id = f"{self.counter}"
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        started = time.perf_counter()
        try:
            await self.websocket.send(json.dumps([2, unique_id, action, payload]))
            reply = await asyncio.wait_for(future, 30)
            phase.latencies_ms.append((time.perf_counter() - started) * 1000)
            return reply
        finally:
            self.busy = False


async def connect_all(identities: list[str], port: int) -> list[BenchCharger]:
    from websockets.asyncio.client import connect

    async def one(identity: str) -> BenchCharger:
        credentials = base64.b64encode(f"{identity}:{PASSWORD}".encode()).decode()
        websocket = await connect(
            f"ws://127.0.0.1:{port}/ocpp/{identity}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Basic {credentials}"},
            open_timeout=30,
            ping_interval=None,
        )
        return BenchCharger(identity, websocket)

    chargers = []
    for first in range(0, len(identities), 50):  # not all at once: a gentle ramp
        chargers += await asyncio.gather(*(one(i) for i in identities[first : first + 50]))
    return chargers


async def run_phases(
    args: argparse.Namespace, identities: list[str], tags: dict[str, list[Tag]], bridge_pid: int
) -> list[Phase]:
    rng = random.Random(args.seed)
    chargers = await connect_all(identities, args.port)
    await asyncio.sleep(1)
    warm = Phase("warm-up")
    for _ in range(2):
        await asyncio.gather(*(c.authorize(pick(tags, c.identity, rng), warm) for c in chargers))
    phases: list[Phase] = []

    async def timed(phase: Phase, body: Any) -> None:
        cpu, started = cpu_seconds(bridge_pid), time.monotonic()
        await body
        phase.seconds = time.monotonic() - started
        phase.bridge_cpu_s = cpu_seconds(bridge_pid) - cpu
        phases.append(phase)
        print(f"[bench] {json.dumps(phase.summary())}", flush=True)

    for rate in [float(r) for r in args.rates.split(",") if r]:
        phase = Phase(f"rate {rate:g}/s")

        async def open_loop(phase: Phase = phase, rate: float = rate) -> None:
            tasks: set[asyncio.Task[None]] = set()
            deadline = time.monotonic() + args.duration
            next_at = time.monotonic()
            while next_at < deadline:
                next_at += rng.expovariate(rate)
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                idle = [c for c in chargers if not c.busy]
                if not idle:
                    phase.skipped += 1
                    continue
                charger = rng.choice(idle)
                task = asyncio.create_task(
                    charger.authorize(pick(tags, charger.identity, rng), phase)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*tasks)

        await timed(phase, open_loop())

    burst = Phase(f"burst of {len(chargers)}")

    async def bursts() -> None:
        for _ in range(args.bursts):
            await asyncio.gather(
                *(c.authorize(pick(tags, c.identity, rng), burst) for c in chargers)
            )
            await asyncio.sleep(1)

    await timed(burst, bursts())

    floor = Phase(f"burst of {len(chargers)} Heartbeats (no database: the floor)", heartbeats=True)

    async def heartbeat_bursts() -> None:
        for _ in range(args.bursts):
            await asyncio.gather(*(c.heartbeat(floor) for c in chargers))
            await asyncio.sleep(1)

    await timed(floor, heartbeat_bursts())

    saturation = Phase(f"saturation, {len(chargers)} back to back")

    async def closed_loop() -> None:
        deadline = time.monotonic() + args.saturate

        async def keep_going(charger: BenchCharger) -> None:
            while time.monotonic() < deadline:
                await charger.authorize(pick(tags, charger.identity, rng), saturation)

        await asyncio.gather(*(keep_going(c) for c in chargers))

    await timed(saturation, closed_loop())
    for charger in chargers:
        await charger.websocket.close()
    return [warm, *phases]


def markdown(phases: list[dict[str, Any]]) -> str:
    lines = [
        "| phase | decisions | decisions/s | p50 ms | p90 ms | p99 ms | max ms | bridge CPU | wrong |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        lines.append(
            f"| {p['phase']} | {p['decisions']} | {p['per_s']} | {p['p50_ms']} | {p['p90_ms']} |"
            f" {p['p99_ms']} | {p['max_ms']} | {p['bridge_cpu_percent']} % | {p['wrong_answers']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from auth_access.models import AuthorizationRecord

    call_command("migrate", "--noinput", verbosity=0)
    if port_open(args.port):
        print(f"port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    identities, tags = prepare(args.chargers, args.seed)
    print(f"[bench] {len(identities)} chargers ready in {time.monotonic() - started:.1f} s")
    bridge = start_bridge(args.port, args.output.with_suffix(".bridge.log"))
    try:
        phases = asyncio.run(run_phases(args, identities, tags, bridge.pid))
    finally:
        stop_bridge(bridge)
    summaries = [p.summary() for p in phases[1:]]
    decided = sum(len(p.latencies_ms) for p in phases if not p.heartbeats)
    recorded = AuthorizationRecord.objects.filter(charger__ocpp_identity__in=identities).count()
    result = {
        "config": {k: str(v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "phases": summaries,
        "decisions_sent": decided,
        "decisions_recorded": recorded,
    }
    args.output.write_text(json.dumps(result, indent=2))
    print(markdown(summaries))
    print(f"[bench] {decided} decisions answered, {recorded} recorded; details in {args.output}")
    return 0 if recorded == decided and not any(p["wrong_answers"] for p in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
