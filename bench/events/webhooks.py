"""Webhooks benchmark: 10,000 events in a minute delivered to a local receiver; the latency from
an event's commit to its arrival at the receiver.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x WEBHOOKS_ALLOW_LOCAL=true .venv/bin/python -m portal.embedded \\
        --var var/bench-webhooks -- .venv/bin/python -m bench.events.webhooks

It starts a Celery worker (``--concurrency=2``, as the demo) and beat with the same environment,
a receiver (``http.server`` in a thread of this process, checking every signature with the
``verify()`` of docs/webhooks.md and answering 204), an installation with ``--chargers``
chargers and ``--endpoints`` endpoints to the receiver. Then it writes ``--events`` events
over ``--seconds``, evenly paced, in transactions of ``--batch`` (``events.services.emit_many``,
the bridge's path). Everything after the commit is production's path: the commit wakes the
event consumers (``events.tasks.run_consumers``), the ``webhooks`` consumer fans the events out
and wakes the sender (``webhooks.tasks.send_due_deliveries``), which POSTs them.

Latency of a delivery = its arrival at the receiver - the commit of its event (one clock).
Prints p50, p95, p99 and max, the deliveries per second, the deliveries missing after the
``--drain`` seconds allowed at the end, and the fan-out's share (commit to delivery row: the
event consumers' wake-up and run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import django

OWNER = "owner@bench-webhooks.test"
ROOT = Path(__file__).resolve().parents[2]
TYPES = ("charger.connected", "charger.disconnected")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events.webhooks", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=10, help="events per transaction")
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait at the end")
    parser.add_argument("--output", help="write the figures as JSON here")
    parser.add_argument("--var", default="var/bench-webhooks", help="beat schedule, worker log")
    return parser.parse_args(argv)


def documented_verify() -> Any:
    doc = (ROOT / "docs" / "webhooks.md").read_text()
    namespace: dict[str, Any] = {}
    exec(re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)[0], namespace)
    return namespace["verify"]


class Receiver:
    """Records the arrival time of each event id (per endpoint secret that signed it)."""

    def __init__(self, secrets_by_path: dict[str, str]) -> None:
        self.secrets = secrets_by_path
        self.verify = documented_verify()
        self.arrivals: dict[tuple[str, int], float] = {}
        self.refused = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.strip("/")
                try:
                    event = receiver.verify(receiver.secrets[path], self.headers, body)
                except Exception:
                    receiver.refused += 1
                    self.send_response(400)
                else:
                    receiver.arrivals.setdefault((path, event["id"]), arrived)
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler


def build(chargers: int) -> tuple[Any, list[int]]:
    from accounts.models import User
    from chargers.models import Charger
    from chargers.services import register_charger
    from installations.services import create_installation

    owner = User.objects.filter(email=OWNER).first()
    if owner is None:
        owner = User.objects.create_user(email=OWNER, password="bench-webhooks")
        site = create_installation(owner, name="Webhook bench", main_fuse_a=4000)
        for n in range(chargers):
            register_charger(circuit=site.main_fuse, name=f"W{n}", ocpp_identity=f"BENCH-WH-{n}")
    site = owner.memberships.first().installation
    ids = list(
        Charger.objects.filter(installation=site).order_by("pk").values_list("pk", flat=True)
    )
    return site, ids[:chargers]


def start_celery(var_dir: Path) -> list[subprocess.Popen[bytes]]:
    common = [sys.executable, "-m", "celery", "-A", "portal"]
    log = open(var_dir / "bench-webhooks-celery.log", "ab")  # noqa: SIM115 (open for the run)
    worker = subprocess.Popen(
        [*common, "worker", "--concurrency=2", "--loglevel=WARNING", "-n", "bench-webhooks@%h"],
        cwd=ROOT, stdout=log, stderr=log,
    )  # fmt: skip
    beat = subprocess.Popen(
        [*common, "beat", "--loglevel=WARNING", "--schedule", str(var_dir / "bench-beat")],
        cwd=ROOT, stdout=log, stderr=log,
    )  # fmt: skip
    from portal.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not app.control.ping(timeout=1.0):
        time.sleep(0.5)
    return [worker, beat]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from events.consumers import CONSUMERS, run
    from events.services import Draft, emit_many
    from portal.redis import get_redis
    from webhooks.models import Delivery, Endpoint

    if not settings.WEBHOOKS_ALLOW_LOCAL:
        sys.exit("Set WEBHOOKS_ALLOW_LOCAL=true: the receiver listens on 127.0.0.1 over http.")
    call_command("migrate", verbosity=0)
    site, charger_ids = build(args.chargers)
    Endpoint.objects.filter(installation=site).update(enabled=False)
    for name in CONSUMERS:  # start from a caught-up outbox
        run(name, CONSUMERS[name], max_batches=10_000)
    get_redis().delete("fusebox:webhooks:sender")

    paths = [f"hook-{n}" for n in range(args.endpoints)]
    receiver = Receiver({})
    endpoints = []
    for path in paths:
        endpoints.append(Endpoint.objects.create(installation=site, url=receiver.url(path)))
        receiver.secrets[path] = endpoints[-1].secret

    var_dir = ROOT / args.var
    var_dir.mkdir(parents=True, exist_ok=True)
    processes = start_celery(var_dir)
    committed: dict[int, float] = {}
    try:
        interval = args.seconds * args.batch / args.events
        started = time.monotonic()
        for n in range(0, args.events, args.batch):
            due = started + (n // args.batch) * interval
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            with transaction.atomic():
                written = emit_many(
                    Draft(TYPES[k % 2], charger_ids[k % len(charger_ids)], connector_id=0)
                    for k in range(n, min(n + args.batch, args.events))
                )
            at = time.time()
            committed.update((event.pk, at) for event in written)
        emitting_s = time.monotonic() - started
        expected = len(committed) * len(paths)
        deadline = time.monotonic() + args.drain
        while len(receiver.arrivals) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        total_s = time.monotonic() - started
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    latencies = [
        arrived - committed[event_id]
        for (_, event_id), arrived in receiver.arrivals.items()
        if event_id in committed
    ]
    first_commit = min(committed.values())
    slow: dict[int, int] = {}  # second of the run -> deliveries that took over 2 s
    for (_, event_id), arrived in receiver.arrivals.items():
        if event_id in committed and arrived - committed[event_id] > 2.0:
            second = int(committed[event_id] - first_commit)
            slow[second] = slow.get(second, 0) + 1
    fanned_out = [
        created.timestamp() - committed[event_id]
        for event_id, created in Delivery.objects.filter(
            endpoint__in=endpoints, event_id__in=list(committed)
        ).values_list("event_id", "created_at")
    ]
    figures = {
        "events": len(committed),
        "endpoints": len(paths),
        "emitting_s": round(emitting_s, 1),
        "delivered": len(latencies),
        "missing": expected - len(latencies),
        "refused_signatures": receiver.refused,
        "deliveries_per_s": round(len(latencies) / total_s, 1),
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "latency_p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        # the consumer's share: from the event's commit to its delivery row (the fan-out)
        "fan_out_p50_s": round(statistics.median(fanned_out), 3) if fanned_out else None,
        "fan_out_p95_s": round(percentile(fanned_out, 0.95), 3) if fanned_out else None,
        "over_2s_by_second": slow,
    }
    print(json.dumps(figures, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
