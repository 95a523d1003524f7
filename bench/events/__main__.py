"""Events benchmark: what writing events adds to the bridge's database work.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-events -- \\
        .venv/bin/python -m bench.events

It calls the bridge's persistence functions as its database threads do (same process, one
thread), with events and with the emission switched off (the code path as before events), in
alternating rounds so both see the same machine:

- ``status``: StatusNotifications that fault and recover a connector in turn, each of which
  writes a ``connector.faulted`` or ``connector.recovered`` (the worst case: every message an
  event); per message, median and p99 in ms;
- ``online``: batches of ``--batch`` connects and disconnects (the presence writer's batch),
  each change an event; per batch, and events per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import django

OWNER = "owner@bench-events.test"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__)
    parser.add_argument("--chargers", type=int, default=500)
    parser.add_argument("--messages", type=int, default=2000, help="status messages per round")
    parser.add_argument("--batch", type=int, default=500, help="online changes per batch")
    parser.add_argument("--batches", type=int, default=20, help="online batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def build(chargers: int) -> list[int]:
    from accounts.models import User
    from chargers.models import Charger
    from chargers.services import register_charger
    from installations.services import create_installation

    owner = User.objects.filter(email=OWNER).first()
    if owner is None:
        owner = User.objects.create_user(email=OWNER, password="bench-events")
        site = create_installation(owner, name="Bench depot", main_fuse_a=4000)
        for n in range(chargers):
            register_charger(circuit=site.main_fuse, name=f"C{n}", ocpp_identity=f"BENCH-EV-{n}")
    return list(Charger.objects.order_by("pk").values_list("pk", flat=True)[:chargers])


@contextmanager
def events_off() -> Iterator[None]:
    """The bridge's writes as before events: no drafts, so no INSERT and no transaction."""
    from ocpp_bridge.persistence import connections, reports

    saved = (reports._fault_drafts, connections.presence_drafts)
    reports._fault_drafts = lambda charger_id, report: []  # type: ignore[assignment]
    connections.presence_drafts = lambda changes: []  # type: ignore[assignment]
    try:
        yield
    finally:
        reports._fault_drafts, connections.presence_drafts = saved


def status_round(charger_ids: list[int], messages: int, start: datetime) -> list[float]:
    from ocpp_bridge.persistence import ReportedState, StatusReport, record_status

    timings = []
    faulted = {pk: False for pk in charger_ids}
    for n in range(messages):
        pk = charger_ids[n % len(charger_ids)]
        was = faulted[pk]
        previous = ReportedState("Faulted", "GroundFailure", "", "") if was else None
        previous = previous or ReportedState("Available", "", "", "")
        fault = not was
        report = StatusReport(
            connector_id=1,
            status="Faulted" if fault else "Available",
            error_code="GroundFailure" if fault else "NoError",
            timestamp=start + timedelta(milliseconds=n),
            previous=previous,
        )
        began = time.perf_counter()
        record_status(pk, report, True, False)
        timings.append((time.perf_counter() - began) * 1000)
        faulted[pk] = fault
    return timings


def online_round(charger_ids: list[int], batches: int, size: int) -> list[float]:
    from ocpp_bridge.persistence import OnlineChange, record_online_changes

    timings = []
    for b in range(batches):
        online = b % 2 == 0
        at = datetime.now(UTC)
        changes = [
            OnlineChange(charger_ids[i % len(charger_ids)], online, at, "bench")
            for i in range(size)
        ]
        began = time.perf_counter()
        record_online_changes(changes, {})
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def summary(name: str, timings: list[float], events_each: float) -> str:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    total_s = sum(timings) / 1000
    per_s = len(timings) / total_s if total_s else 0.0
    return (
        f"  {name:<14} median {statistics.median(timings):7.3f} ms  p99 {p99:7.3f} ms"
        f"  {per_s:9,.0f} calls/s  {per_s * events_each:9,.0f} events/s"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    charger_ids = build(args.chargers)
    results: dict[str, list[float]] = {}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for round_no in range(args.rounds):
        for label, switch in (("without", events_off), ("with", _nothing)):
            with switch():
                stamp = start + timedelta(hours=round_no * 2 + (label == "with"))
                results.setdefault(f"status {label}", []).extend(
                    status_round(charger_ids, args.messages, stamp)
                )
                results.setdefault(f"online {label}", []).extend(
                    online_round(charger_ids, args.batches, args.batch)
                )
    print(
        f"bench.events: {args.chargers} chargers, {args.rounds} rounds of {args.messages}"
        f" status messages and {args.batches} batches of {args.batch} online changes"
    )
    for name, timings in results.items():
        each = 0.0 if "without" in name else (1.0 if name.startswith("status") else args.batch)
        print(summary(name, timings, each))
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    raise SystemExit(main())
