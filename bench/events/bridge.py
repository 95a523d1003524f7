"""Events through a real bridge: what writing events adds per StatusNotification.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-events -- \\
        .venv/bin/python -m bench.events.bridge

A ``Bridge`` runs in this process on 127.0.0.1 (its own event loop thread, its database threads,
as ``run_bridge`` does), and ``--chargers`` chargers connect over real websockets (ocpp1.6, HTTP
Basic). Each round every charger sends ``--messages`` StatusNotifications, one at a time, that
fault and recover connector 1 in turn: every message writes a ``connector.faulted`` or
``connector.recovered`` (the worst case; a status that neither faults nor recovers writes
nothing). Rounds alternate with and without the emission (the same code with the events' drafts
switched off, as ``bench.events`` does), so both see the same machine.

Per message it measures the charger's round trip (Call sent -> CallResult received) and the
bridge's write of the status (``persistence.record_status`` as its database thread runs it,
the part events add to), and reports medians and p99 with and without events and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import django

T = TypeVar("T")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events.bridge", description=__doc__)
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=40, help="statuses per charger per round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds (a third of them each way)")
    parser.add_argument(
        "--event-every",
        type=int,
        default=1,
        help="1: every status faults or recovers (an event each); K: one fault and its recovery"
        " per K statuses, the others Charging/SuspendedEV (written, no event)",
    )
    return parser.parse_args(argv)


class LoopThread:
    """An event loop in a daemon thread; ``run()`` a coroutine on it from this thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def timed(function: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    """``function``, appending each call's duration (ms) to ``into`` (list.append is atomic)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - began) * 1000)

    return wrapper


def status_of(n: int, event_every: int) -> tuple[str, str]:
    """The n-th status a charger sends: a fault and a recovery once per ``event_every``."""
    if event_every <= 1:
        return ("Faulted", "GroundFailure") if n % 2 == 0 else ("Available", "NoError")
    step = n % max(event_every, 2)
    if step in (0, 1):
        return ("Faulted", "GroundFailure") if step == 0 else ("Available", "NoError")
    return ("Charging", "NoError") if step % 2 == 0 else ("SuspendedEV", "NoError")


async def charger_round(
    url: str, identity: str, password: str, messages: int, event_every: int
) -> list[float]:
    """Connect, then send ``messages`` StatusNotifications (``status_of``); round trips in ms."""
    from websockets.asyncio.client import connect

    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    round_trips = []
    async with connect(
        url, subprotocols=["ocpp1.6"], additional_headers={"Authorization": f"Basic {token}"}
    ) as websocket:  # type: ignore[list-item]
        await websocket.send(json.dumps([2, "hb", "Heartbeat", {}]))
        await websocket.recv()
        for n in range(messages):
            state, error = status_of(n, event_every)
            status = {
                "connectorId": 1,
                "status": state,
                "errorCode": error,
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
            began = time.perf_counter()
            await websocket.send(json.dumps([2, f"s{n}", "StatusNotification", status]))
            reply = json.loads(await websocket.recv())
            round_trips.append((time.perf_counter() - began) * 1000)
            assert reply[0] == 3, reply
    return round_trips


@contextmanager
def no_live_signal() -> Iterator[None]:
    """Events written, but not signalled to open pages (``portal.live.publish_events``)."""
    from portal import live

    saved = live.publish_events
    live.publish_events = lambda events_by_installation: None  # type: ignore[assignment]
    try:
        yield
    finally:
        live.publish_events = saved


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from bench.events.__main__ import _nothing, build, events_off
    from chargers.models import Charger
    from chargers.services import rotate_ocpp_password
    from events.models import Event
    from ocpp_bridge import persistence
    from ocpp_bridge.bridge import Bridge

    call_command("migrate", "--noinput", verbosity=0)
    charger_ids = build(args.chargers)  # (a database built smaller before keeps its size)
    chargers = list(Charger.objects.filter(pk__in=charger_ids).order_by("pk"))
    passwords = {c.ocpp_identity: rotate_ocpp_password(c) for c in chargers}

    labels = ("without", "with", "with, no live signal")
    writes: dict[str, list[float]] = {label: [] for label in labels}
    trips: dict[str, list[float]] = {label: [] for label in labels}
    current: list[float] = []
    persistence.record_status = timed(persistence.record_status, current)  # type: ignore[assignment]

    bridge_loop, client_loop = LoopThread("bench-bridge"), LoopThread("bench-chargers")
    bridge = Bridge("127.0.0.1", 0, node_id="bench-events-bridge")
    bridge_loop.run(bridge.start())
    events_before = Event.objects.count()
    started = time.monotonic()
    try:
        for round_no in range(args.rounds):
            label = labels[round_no % 3]
            current.clear()
            switch = {"without": events_off, "with": _nothing, labels[2]: no_live_signal}[label]
            with switch():

                async def everyone() -> list[list[float]]:
                    return await asyncio.gather(
                        *(
                            charger_round(
                                f"ws://127.0.0.1:{bridge.port}/ocpp/{c.ocpp_identity}",
                                c.ocpp_identity,
                                passwords[c.ocpp_identity],
                                args.messages,
                                args.event_every,
                            )
                            for c in chargers
                        )
                    )

                for round_trips in client_loop.run(everyone()):
                    trips[label].extend(round_trips)
                bridge_loop.run(bridge.flush())  # every write of the round done
            writes[label].extend(current)
    finally:
        bridge_loop.run(bridge.stop())
        bridge_loop.close()
        client_loop.close()
    events = Event.objects.count() - events_before

    print(
        f"bench.events.bridge: {len(chargers)} chargers over websockets, {args.rounds} rounds"
        f" of {args.messages} StatusNotifications each (a fault or a recovery"
        f" {'every message' if args.event_every <= 1 else f'2 in {args.event_every}'}),"
        f" {time.monotonic() - started:.0f} s, {events:,} events written"
    )
    for name, series in (("write (record_status)", writes), ("round trip", trips)):
        without = series["without"]
        base_median, base_p99 = statistics.median(without), percentile(without, 0.99)
        print(f"  {name}: without events median {base_median:.2f} p99 {base_p99:.2f} ms")
        for label in labels[1:]:
            values = series[label]
            median, p99 = statistics.median(values), percentile(values, 0.99)
            print(
                f"    {label:<21} median {median:6.2f} p99 {p99:6.2f} ms, added: median"
                f" {median - base_median:+6.2f} p99 {p99 - base_p99:+6.2f} ms"
                f" ({len(values):,} messages)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
