"""What charge modes cost the live loop: building one installation's snapshot with and without
modes, for a large site where every charger has a car.

Run it with the embedded database and Redis (its own folder)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-modes -- \\
        .venv/bin/python -m bench.modes --chargers 1000

It creates one installation (a main fuse and rows of 20 chargers), a running session on every
charger, then times ``balancing.snapshot.build_scenario(record=True)`` (the live loop's reading,
modes' writes included) and counts its queries: first with every car in Now, then with a
quarter of the cars each in By departure (a plan of 8 hours over hourly prices), Scheduled
(outside its hours) and Surplus (with a reading).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import time as clock
from datetime import timedelta

import django


def build(count: int) -> int:
    from django.utils import timezone

    from accounts.models import User
    from chargers.choices import ConnectorStatus
    from chargers.models import Charger, ChargeSession, Connector
    from installations.models import Circuit
    from installations.services import create_installation

    owner = User.objects.create_user(email=f"bench-modes-{time.time_ns()}@example.com")
    site = create_installation(owner, name="Bench modes", main_fuse_a=4000)
    site.failsafe_current_a = 0
    site.save()
    rows = Circuit.objects.bulk_create(
        Circuit(installation=site, parent=site.main_fuse, name=f"Row {n}", max_current_a=200)
        for n in range(count // 20 + 1)
    )
    stamp = time.time_ns()
    chargers = Charger.objects.bulk_create(
        Charger(
            installation=site,
            circuit=rows[n // 20],
            name=f"M{n}",
            ocpp_identity=f"BM-{stamp}-{n}",
            ocpp_password_hash="x",
            is_online=True,
        )
        for n in range(count)
    )
    connectors = Connector.objects.bulk_create(
        Connector(charger=c, connector_id=1, status=ConnectorStatus.CHARGING) for c in chargers
    )
    now = timezone.now()
    ChargeSession.objects.bulk_create(
        ChargeSession(
            charger=c,
            connector=k,
            id_tag="BENCH",
            started_at=now - timedelta(minutes=n % 90),
            meter_start_wh=0,
            energy_wh=n * 10,
        )
        for n, (c, k) in enumerate(zip(chargers, connectors, strict=True))
    )
    return site.pk


def with_modes(site_id: int) -> None:
    from django.utils import timezone

    from chargers.models import Charger, ChargeSession
    from installations.models import Installation
    from modes import services
    from modes.choices import ChargeMode, DayType
    from modes.models import ChargerMode, SessionPlan
    from tariffs.models import DayAheadPrice

    site = Installation.objects.get(pk=site_id)
    chargers = list(Charger.objects.filter(installation=site).order_by("id"))
    sessions = {s.charger_id: s for s in ChargeSession.objects.filter(charger__in=chargers)}
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    DayAheadPrice.objects.bulk_create(
        DayAheadPrice(
            installation=site,
            start=now + timedelta(hours=h),
            end=now + timedelta(hours=h + 1),
            price_per_kwh=(h * 7) % 5 / 10,
            currency="EUR",
        )
        for h in range(-1, 12)
    )
    plans, defaults = [], []
    for n, charger in enumerate(chargers):
        kind = n % 4
        if kind == 1:
            plans.append(
                SessionPlan(
                    charger=charger,
                    session=sessions[charger.pk],
                    departure_at=timezone.now() + timedelta(hours=8),
                    energy_need_wh=20_000,
                )
            )
        elif kind in (2, 3):
            mode = ChargeMode.SCHEDULED if kind == 2 else ChargeMode.SURPLUS
            defaults.append(ChargerMode(charger=charger, mode=mode))
    SessionPlan.objects.bulk_create(plans)
    ChargerMode.objects.bulk_create(defaults)
    later = (timezone.localtime(timezone.now()) + timedelta(hours=3)).time()
    end = clock(later.hour, 59)
    services.save_windows(
        site, [services.WindowSpec(kind, clock(later.hour), end) for kind in DayType]
    )
    services.report_surplus(site, [400, 400, 400])


def measure(site_id: int, runs: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from balancing.snapshot import build_scenario
    from installations.models import Installation

    site = Installation.objects.get(pk=site_id)
    build_scenario(site, record=True)  # warm-up: the surplus states are created once
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            build_scenario(site, record=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), len(captured.captured_queries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.modes", description=__doc__)
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    site_id = build(args.chargers)
    print(f"{args.chargers:,} chargers with a car; build_scenario(record=True), {args.runs} runs")
    print(f"{'':44} {'median ms':>10} {'worst ms':>9} {'queries':>8}")
    median, worst, queries = measure(site_id, args.runs)
    print(f"{'every car in Now':44} {median:10.1f} {worst:9.1f} {queries:8d}")
    with_modes(site_id)
    median, worst, queries = measure(site_id, args.runs)
    label = "a quarter each: Now, departure, sched., surplus"
    print(f"{label:44} {median:10.1f} {worst:9.1f} {queries:8d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
