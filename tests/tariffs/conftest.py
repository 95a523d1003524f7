"""Fixtures of the price pages' tests: the logged-in clients and the browser of tests/web."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from chargers.models import ChargeSession
from reporting.models import PricePeriod
from tariffs import costing, services
from tests.conftest import World
from tests.web.conftest import (  # noqa: F401
    browser,
    client_as,
    live_static,
    page,
    phone,
    screenshot,
)


def priced_session(world: World) -> ChargeSession:
    """Dora's 2-hour session from 21:00 on a Monday at site A, with a tariff of 0.30 until 22:00
    and 0.10 after (a flat price of 0.50 besides), priced by the sweep: 10 kWh in each slot,
    4.00 NOK."""
    zone = ZoneInfo(world.site_a.time_zone)
    start = datetime(2026, 3, 2, 21, tzinfo=zone)  # a Monday
    PricePeriod.objects.create(
        installation=world.site_a, price_per_kwh=Decimal("0.50"), currency="NOK",
        effective_from=start - timedelta(days=30),
    )  # fmt: skip
    services.save_tariff(
        world.site_a, currency="NOK", effective_from=start - timedelta(days=1),
        now=start - timedelta(days=1),
        bands=[
            services.BandSpec("weekday", time(7), time(22), Decimal("0.30")),
            services.BandSpec("weekday", time(22), time(7), Decimal("0.10")),
        ],
    )  # fmt: skip
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="T",
        user=world.dora, status="completed", started_at=start, stopped_at=start + timedelta(hours=2),
        meter_start_wh=0, meter_stop_wh=20000, energy_wh=20000,
    )  # fmt: skip
    assert costing.price_finished(start + timedelta(hours=3)) == 1
    return session
