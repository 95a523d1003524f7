"""Fleet benchmark: the fleet page of an installer who serves 1,000 installations.

Run it with the embedded database and Redis (its own folder; the data is generated once and
reused by later runs)::

    SECRET_KEY=x .venv/bin/python -m portal.embedded --var var/bench-fleet -- \\
        .venv/bin/python -m bench.fleet

It builds 1,000 installations of 5 chargers (one connector each) served by one installer: every
7th site has a charger offline, every 11th a faulted one, every 13th an open incident, the other
chargers online, some charging. Then it requests the real pages through Django's test client,
logged in as the installer: ``/fleet/`` worst first, by name, only with problems, a name search,
the 20th page, and ``/api/v1/fleet/``. Median and worst of ``--runs`` requests after a warm-up,
the median time spent in SQL and the number of SQL queries (the same for any number of sites).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta

import django

INSTALLER = "installer@fleet.bench"
SITES = 1_000
CHARGERS = 5


def build() -> None:
    """The installer, its sites, chargers, states and incidents (once per --var folder)."""
    from django.db import transaction
    from django.utils.timezone import now

    from accounts.models import User
    from chargers.choices import ConnectorStatus
    from chargers.models import Charger, Connector
    from events.choices import IncidentKind
    from events.models import Incident
    from installations.choices import Role
    from installations.models import Installation, Membership
    from installations.services import create_installation

    if User.objects.filter(email=INSTALLER).exists():
        return
    started = time.perf_counter()
    moment = now()
    with transaction.atomic():
        installer = User.objects.create_user(email=INSTALLER, password="bench", name="Installer")
        owner = User.objects.create_user(email="owner@fleet.bench", password="bench", name="Own")
        sites: list[Installation] = []
        for number in range(SITES):
            site = create_installation(owner, name=f"Site {number:04}", main_fuse_a=63)
            sites.append(site)
        Membership.objects.bulk_create(
            [Membership(user=installer, installation=s, role=Role.INSTALLER) for s in sites]
        )
        chargers = Charger.objects.bulk_create(
            [
                Charger(
                    installation=site, circuit=site.main_fuse, name=f"C{plug}",
                    ocpp_identity=f"FLEET-{number}-{plug}", ocpp_password_hash="!",
                    is_online=not (plug == 0 and number % 7 == 0),
                    last_seen_at=moment - timedelta(minutes=number % 60 + plug),
                )
                for number, site in enumerate(sites)
                for plug in range(CHARGERS)
            ]
        )  # fmt: skip
        statuses = []
        for index, charger in enumerate(chargers):
            number, plug = divmod(index, CHARGERS)
            if plug == 1 and number % 11 == 0:
                status = ConnectorStatus.FAULTED
            elif plug in (2, 3):
                status = ConnectorStatus.CHARGING
            else:
                status = ConnectorStatus.AVAILABLE
            statuses.append(Connector(charger=charger, connector_id=1, status=status))
        Connector.objects.bulk_create(statuses)
        Incident.objects.bulk_create(
            [
                Incident(
                    installation=site, kind=IncidentKind.OFFLINE, summary="offline",
                    started_at=moment - timedelta(hours=number % 24),
                )
                for number, site in enumerate(sites)
                if number % 13 == 0
            ]
        )  # fmt: skip
    print(f"built {SITES:,} sites x {CHARGERS} chargers in {time.perf_counter() - started:.0f} s")


def measure(label: str, fetch, runs: int) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answer = fetch()  # warm-up
    assert answer.status_code == 200, (label, answer.status_code)
    times, sql, queries = [], [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            begun = time.perf_counter()
            answer = fetch()
            times.append((time.perf_counter() - begun) * 1000)
        sql.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
        queries = len(captured)
    print(
        f"{label:44} {statistics.median(times):>10.1f} {max(times):>9.1f}"
        f" {statistics.median(sql):>7.1f} {queries:>8}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User

    call_command("migrate", "--noinput", verbosity=0)
    build()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    client.force_login(User.objects.get(email=INSTALLER))
    print(f"{SITES:,} installations x {CHARGERS} chargers; {args.runs} requests after a warm-up\n")
    print(f"{'':44} {'median ms':>10} {'worst ms':>9} {'sql ms':>7} {'queries':>8}")
    for label, url in (
        ("/fleet/ worst first, first page of 50", "/fleet/"),
        ("/fleet/ by name", "/fleet/?sort=name"),
        ("/fleet/ only with problems", "/fleet/?problems=1"),
        ("/fleet/ search by name", "/fleet/?q=Site%2009"),
        ("/fleet/ page 20 (the last)", "/fleet/?page=20"),
        ("/api/v1/fleet/ worst first", "/api/v1/fleet/"),
    ):
        measure(label, lambda url=url: client.get(url), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
