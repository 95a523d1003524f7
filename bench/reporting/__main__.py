"""Reporting benchmark: the history, usage and export pages over a million charge sessions.

Run it with the embedded database and Redis (its own folder; the data is generated once and
reused by later runs)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-reporting-1k -- \\
        .venv/bin/python -m bench.reporting

It builds an operator with 1,000 installations (a 200-charger depot and 999 car parks of 5
chargers), an installer who serves all of them, 3,000 drivers with a card each, and
``--sessions`` finished sessions spread over two years (a quarter of them at the depot: over
100,000 in the last year), then requests the real pages through Django's test client, logged in
as the owner, the installer and a driver: the installation history (first page, a page deep in
the list by its keyset cursor, a filtered month, a search), the usage summaries (per driver this
year, per month over all time), the usage across all installations (this year, all time), a
driver's My charging, and the CSV export of a month (streamed; rows per second).
Median and worst of ``--runs`` requests after a warm-up, the median time spent in SQL (the
database's share; the rest is Django and the templates) and the number of SQL queries.

The sessions are inserted with the rollup's insert trigger off, then the daily rollup is rebuilt
(its time is printed). ``--raw`` measures the pages with the rollup unused (the sums read from
the sessions, as before it existed); ``--trigger`` measures what the rollup's trigger adds to
finishing a session (``--trigger-sessions`` of them, with and without it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import django
from django.utils.timezone import now

OWNER = "owner@bench.test"
INSTALLER = "installer@bench.test"
SMALL_SITES = 999
SMALL_CHARGERS = 5
DEPOT_SHARE = 4  # one session in this many is at the depot
DEPOT_CHARGERS = 200
DRIVERS = 3_000
DAYS = 730


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reporting", description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--raw", action="store_true", help="the pages without the rollup")
    parser.add_argument("--trigger", action="store_true", help="the trigger's cost only")
    parser.add_argument("--trigger-sessions", type=int, default=2000)
    return parser.parse_args(argv)


# ---------- data ----------


def build(sessions: int) -> None:
    """The operator, its sites, drivers and cards, and ``sessions`` sessions (once)."""
    from django.db import transaction

    from accounts.models import User
    from auth_access.models import ChargeCard
    from chargers.models import Charger, ChargeSession, Connector
    from installations.choices import Role
    from installations.models import Installation, Membership
    from installations.services import create_installation
    from reporting.models import PricePeriod

    if User.objects.filter(email=OWNER).exists():
        if Installation.objects.count() != SMALL_SITES + 1:
            raise SystemExit("this --var folder holds an older bench's data: use a new folder")
        count = ChargeSession.objects.count()
        if count >= sessions:
            return
        if count:
            raise SystemExit("this --var folder holds an unfinished build: remove it and rerun")
        add_sessions(sessions)  # the sites were made, the sessions failed: again
        return
    started = time.perf_counter()
    with transaction.atomic():
        owner = User.objects.create_user(email=OWNER, password="bench", name="Bench Owner")
        installer = User.objects.create_user(email=INSTALLER, password="bench", name="Installer")
        sites = [create_installation(owner, name="Depot", main_fuse_a=2000)]
        sites += [
            create_installation(owner, name=f"Car park {n:02d}", main_fuse_a=400)
            for n in range(1, SMALL_SITES + 1)
        ]
        Membership.objects.bulk_create(
            [Membership(user=installer, installation=site, role=Role.INSTALLER) for site in sites]
        )
        template = Charger(name="x", ocpp_identity="x")
        password_hash = (template.set_ocpp_password(), template.ocpp_password_hash)[1]
        chargers = []
        for index, site in enumerate(sites):
            count = DEPOT_CHARGERS if index == 0 else SMALL_CHARGERS
            chargers += [
                Charger(
                    installation=site,
                    circuit=site.main_fuse,
                    name=f"{site.name} {n:03d}",
                    ocpp_identity=f"BENCH-{site.pk}-{n:03d}",
                    ocpp_password_hash=password_hash,
                )
                for n in range(1, count + 1)
            ]
        Charger.objects.bulk_create(chargers, batch_size=1000)
        Connector.objects.bulk_create(
            [Connector(charger=charger, connector_id=1) for charger in chargers], batch_size=1000
        )
        users = User.objects.bulk_create(
            [
                User(email=f"driver{n:04d}@bench.test", name=f"Driver {n:04d}", password="!")
                for n in range(1, DRIVERS + 1)
            ],
            batch_size=1000,
        )
        # A sixth of the drivers at the depot, the rest spread over the car parks.
        home = [sites[0] if n % 6 == 0 else sites[1 + n % SMALL_SITES] for n in range(DRIVERS)]
        Membership.objects.bulk_create(
            [
                Membership(user=u, installation=s, role=Role.DRIVER)
                for u, s in zip(users, home, strict=True)
            ],
            batch_size=1000,
        )
        ChargeCard.objects.bulk_create(
            [
                ChargeCard(id_tag=f"B{n:07d}", user=u, installation=s, name=f"{u.name}'s card")
                for n, (u, s) in enumerate(zip(users, home, strict=True))
            ],
            batch_size=1000,
        )
        # Two prices per site: the one set at creation, and a rise a year ago (the cost of a
        # session is at the price in force when it ended).
        PricePeriod.objects.filter(installation__in=sites).update(
            price_per_kwh=Decimal("2.50"),
            currency="NOK",
            effective_from=now() - timedelta(days=DAYS),
        )
        PricePeriod.objects.bulk_create(
            [
                PricePeriod(
                    installation=site,
                    price_per_kwh=Decimal("3.10"),
                    currency="NOK",
                    effective_from=now() - timedelta(days=365),
                )
                for site in sites
            ]
        )
    print(f"sites generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    add_sessions(sessions)


def add_sessions(sessions: int) -> None:
    """One INSERT of every session with the rollup's row trigger off, then one rebuild."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE chargers_chargesession DISABLE TRIGGER reporting_usage_insert")
        try:
            _insert_sessions(sessions)
        finally:
            cursor.execute(
                "ALTER TABLE chargers_chargesession ENABLE TRIGGER reporting_usage_insert"
            )
    print(f"sessions generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rebuild_rollup()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def rebuild_rollup() -> None:
    from reporting.models import DailyUsage
    from reporting.rollup import rebuild

    started = time.perf_counter()
    rows = rebuild()
    seconds = time.perf_counter() - started
    print(
        f"rollup rebuilt: {rows:,} rows in {seconds:.1f} s ({DailyUsage.objects.count():,} rows)",
        file=sys.stderr,
    )


def _insert_sessions(count: int) -> None:
    """``count`` finished sessions in one INSERT ... SELECT: each on a charger of the driver's
    own installation, over the last two years, 2-14 h connected, 3-45 kWh."""
    from django.db import connection

    from auth_access.models import ChargeCard
    from chargers.models import Connector

    drivers_by_site: dict[int, list[tuple[int, int, str]]] = {}
    for card_id, user_id, id_tag, site_id in ChargeCard.objects.order_by("pk").values_list(
        "pk", "user_id", "id_tag", "installation_id"
    ):
        drivers_by_site.setdefault(site_id, []).append((card_id, user_id, id_tag))
    connectors = list(
        Connector.objects.order_by("pk").values_list("pk", "charger_id", "charger__installation_id")
    )
    flat: list[tuple[int, int, str]] = []
    first: dict[int, int] = {}
    for site_id, drivers in drivers_by_site.items():
        first[site_id] = len(flat) + 1
        flat += drivers
    params = {
        "connector": [row[0] for row in connectors],
        "charger": [row[1] for row in connectors],
        "first": [first[row[2]] for row in connectors],
        "many": [len(drivers_by_site[row[2]]) for row in connectors],
        "card": [d[0] for d in flat],
        "user": [d[1] for d in flat],
        "tag": [d[2] for d in flat],
        "count": count,
        "days": DAYS,
        "share": DEPOT_SHARE,
        "depot": DEPOT_CHARGERS,
    }
    sql = """
        WITH p AS (
            SELECT %(connector)s::bigint[] AS connector, %(charger)s::bigint[] AS charger,
                   %(first)s::int[] AS first, %(many)s::int[] AS many, %(card)s::bigint[] AS card,
                   %(user)s::bigint[] AS usr, %(tag)s::text[] AS tag
        ), g AS (
            SELECT n, CASE WHEN n %% %(share)s = 0 THEN 1 + (n * 7919) %% %(depot)s
                           ELSE 1 + %(depot)s + (n * 7919) %% (array_length(p.connector, 1) - %(depot)s)
                      END AS c,
                   now() - make_interval(secs => ((n * 104729) %% (%(days)s * 86400))) AS t0,
                   7200 + (n * 31) %% 43200 AS secs, 3000 + (n * 131) %% 42000 AS wh
            FROM p, generate_series(1::bigint, %(count)s) AS n
        )
        INSERT INTO chargers_chargesession (
            charger_id, connector_id, id_tag, user_id, card_id, status, started_at, stopped_at,
            meter_start_wh, meter_stop_wh, energy_wh, stop_reason, stop_id_tag, stop_inferred,
            charging_seconds, created_at)
        SELECT p.charger[g.c], p.connector[g.c], p.tag[d.i], p.usr[d.i], p.card[d.i], 'completed',
               g.t0, g.t0 + make_interval(secs => g.secs), g.n * 10, g.n * 10 + g.wh, g.wh,
               'EVDisconnected', '', false, g.secs / 3, now()
        FROM p, g, LATERAL (SELECT p.first[g.c] + (g.n * 13) %% p.many[g.c] AS i) AS d
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# ---------- measuring ----------


@dataclass
class Figure:
    label: str
    median_ms: float
    worst_ms: float
    queries: int
    note: str = ""
    sql_ms: float = 0.0


def measure(label: str, get: Callable[[], Any], runs: int, note: str = "") -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get()  # warm-up (plans, caches)
    times = []
    sql = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = get()
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured.captured_queries)
        sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        if getattr(response, "status_code", 200) != 200:
            raise SystemExit(f"{label}: HTTP {response.status_code}")
    median_sql = statistics.median(sql)
    return show(Figure(label, statistics.median(times), max(times), queries, note, median_sql))


def export_rate(client: Any, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url)
    rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    return (time.perf_counter() - started), rows


def show(figure: Figure) -> Figure:
    sql = f"{figure.sql_ms:.0f}" if figure.sql_ms else ""
    print(
        f"{figure.label:44} {figure.median_ms:>10.0f} {figure.worst_ms:>9.0f} {sql:>7} "
        f"{figure.queries or '':>8}  {figure.note}",
        flush=True,
    )
    return figure


def run(args: argparse.Namespace) -> list[Figure]:
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from chargers.models import ChargeSession
    from installations.models import Installation
    from portal.tenancy import Action
    from reporting.queries import encode_cursor

    # Not DEBUG: it also puts the templates in debug mode (about a fifth of a page's time);
    # queries are counted by ``measure`` with CaptureQueriesContext.
    settings.ALLOWED_HOSTS = ["*"]
    owner = User.objects.get(email=OWNER)
    installer = User.objects.get(email=INSTALLER)
    depot = Installation.objects.get(name="Depot")
    busiest = (
        ChargeSession.objects.restrict(owner, Action.VIEW)
        .filter(charger__installation=depot)
        .values("user_id")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    driver = User.objects.get(pk=busiest["user_id"])
    clients = {}
    for who, user in (("owner", owner), ("installer", installer), ("driver", driver)):
        clients[who] = Client()
        clients[who].force_login(user)

    history = reverse("reporting:history", args=[depot.pk])
    usage = reverse("reporting:usage", args=[depot.pk])
    depot_sessions = ChargeSession.objects.filter(charger__installation=depot)
    depot_count = depot_sessions.count()
    middle = depot_sessions.order_by("-started_at", "-id")[depot_count // 2]
    cursor = encode_cursor(middle)
    year_start = (
        now()
        .astimezone(ZoneInfo(depot.time_zone))
        .replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    )
    runs = args.runs
    owner_get = clients["owner"].get
    figures = [
        measure(
            "history, first page",
            lambda: owner_get(history),
            runs,
            f"depot, {depot_count:,} sessions",
        ),
        measure(
            "history, a page half-way down (cursor)",
            lambda: owner_get(history, {"after": cursor}),
            runs,
        ),
        measure("history, last month", lambda: owner_get(history, {"period": "last_month"}), runs),
        measure("history, search a card", lambda: owner_get(history, {"q": "B0000006"}), runs),
        measure(
            "usage per driver, this year",
            lambda: owner_get(usage, {"period": "this_year", "group_by": "user"}),
            runs,
            f"{depot_sessions.filter(started_at__gte=year_start).count():,} sessions",
        ),
        measure("usage per month, all time", lambda: owner_get(usage, {"group_by": "month"}), runs),
        measure(
            "installer: usage across 1,000 sites, this year",
            lambda: clients["installer"].get(reverse("reporting:across"), {"period": "this_year"}),
            runs,
        ),
        measure(
            "installer: usage across 1,000 sites, all time",
            lambda: clients["installer"].get(reverse("reporting:across")),
            runs,
            f"{ChargeSession.objects.count():,} sessions",
        ),
        measure(
            "driver: My charging, first page",
            lambda: clients["driver"].get(reverse("reporting:my_charging")),
            runs,
            f"{ChargeSession.objects.filter(user=driver).count():,} sessions of theirs",
        ),
    ]
    export = reverse("reporting:history_export", args=[depot.pk, "csv"])
    # (A year's export is a job for a worker now: bench/reporting/exports.py measures those.)
    for label, period in (("CSV export, last month", "last_month"),):
        seconds, rows = export_rate(clients["owner"], f"{export}?period={period}")
        figures.append(
            show(
                Figure(
                    label,
                    seconds * 1000,
                    seconds * 1000,
                    0,
                    f"{rows:,} rows, {rows / seconds:,.0f} rows/s",
                )
            )
        )
    return figures


def without_rollup() -> None:
    """The pages as before the rollup: every sum and filter list read from the sessions."""
    from reporting import choices
    from reporting.rollup import UsageSource

    UsageSource._rows = lambda self: None  # type: ignore[method-assign,assignment,return-value]
    original = choices.Keys.distinct

    def distinct(self: choices.Keys, key: str) -> list[int]:
        return original(choices.Keys(self.sessions), key)

    choices.Keys.distinct = distinct  # type: ignore[method-assign]


def trigger_cost(count: int) -> None:
    """Finish ``count`` running sessions one at a time (each its own transaction, as the bridge
    does), with the rollup's trigger and without it; the median time per session."""
    from django.db import connection

    from chargers.models import ChargeSession, Connector
    from installations.models import Installation
    from reporting.rollup import differences

    depot = Installation.objects.get(name="Depot")
    connectors = list(
        Connector.objects.filter(charger__installation=depot).values_list("pk", "charger_id")
    )
    started_at = now() - timedelta(hours=3)

    def finish_all(label: str) -> float:
        running = ChargeSession.objects.bulk_create(
            [
                ChargeSession(
                    charger_id=charger_id, connector_id=connector_id, id_tag=f"TRIG{n}",
                    started_at=started_at + timedelta(seconds=n), meter_start_wh=n,
                    energy_wh=0,
                )
                for n, (connector_id, charger_id) in enumerate(connectors * (count // len(connectors) + 1))
            ][:count]
        )  # fmt: skip
        times = []
        with connection.cursor() as cursor:
            for session in running:
                begun = time.perf_counter()
                cursor.execute(
                    "UPDATE chargers_chargesession SET status = 'completed', stopped_at = now(),"
                    " meter_stop_wh = meter_start_wh + 7000, energy_wh = 7000,"
                    " charging_seconds = 3600 WHERE id = %s",
                    [session.pk],
                )
                times.append((time.perf_counter() - begun) * 1000)
        ChargeSession.objects.filter(pk__in=[s.pk for s in running]).delete()
        median = statistics.median(times)
        print(f"finish a session, {label:34} {median:>8.3f} ms median, {max(times):.1f} worst")
        return median

    with connection.cursor() as cursor:
        with_trigger = finish_all("with the rollup trigger")
        cursor.execute("ALTER TABLE chargers_chargesession DISABLE TRIGGER USER")
        try:
            without = finish_all("without it")
        finally:
            cursor.execute("ALTER TABLE chargers_chargesession ENABLE TRIGGER USER")
    print(f"the trigger adds {with_trigger - without:.3f} ms per finished session")
    started = time.perf_counter()
    found = differences()
    print(f"rollup check: {found or 'exact'} ({time.perf_counter() - started:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.core.management import call_command

    from chargers.models import ChargeSession

    call_command("migrate", "--noinput", verbosity=0)
    build(args.sessions)
    if args.trigger:
        trigger_cost(args.trigger_sessions)
        return 0
    if args.raw:
        without_rollup()
    total = ChargeSession.objects.count()
    source = "the raw sessions (--raw)" if args.raw else "the daily rollup"
    print(f"{total:,} sessions; sums from {source}; {args.runs} requests each after a warm-up\n")
    print(f"{'':44} {'median ms':>10} {'worst ms':>9} {'sql ms':>7} {'queries':>8}")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
