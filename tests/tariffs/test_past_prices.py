"""Prices that change while their hours run (review findings, low): a re-post of day-ahead prices
may cover the hour that is running but not one that has ended, and a holiday may be added or
removed for today; neither changes a session that is already costed."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chargers.models import ChargeSession
from reporting.models import PricePeriod
from reporting.queries import facts_of
from reporting.rollup import differences
from tariffs import costing, services
from tariffs.models import SessionCost
from tests.conftest import World

pytestmark = pytest.mark.django_db


def session(world: World, start: datetime, minutes: int, energy_wh: int) -> ChargeSession:
    return ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="T",
        user=world.dora, status="completed", started_at=start,
        stopped_at=start + timedelta(minutes=minutes), meter_start_wh=0, meter_stop_wh=energy_wh,
        energy_wh=energy_wh,
    )  # fmt: skip


def cost_of(charge: ChargeSession) -> Decimal:
    return facts_of(ChargeSession.objects.filter(pk=charge.pk)).get().cost


def flat_price(world: World, since: datetime) -> None:
    PricePeriod.objects.create(
        installation=world.site_a, price_per_kwh=Decimal("0.50"), currency="NOK",
        effective_from=since - timedelta(days=30),
    )  # fmt: skip


def hour(start: datetime, price: str) -> services.DayAheadEntry:
    return services.DayAheadEntry(start, start + timedelta(hours=1), Decimal(price))


def test_the_running_hour_may_be_reposted_an_ended_one_not_and_a_costed_session_keeps_its_cost(
    world: World,
) -> None:
    zone = ZoneInfo(world.site_a.time_zone)
    ten = datetime(2026, 3, 2, 10, tzinfo=zone)
    flat_price(world, ten)
    services.post_day_ahead(
        world.site_a, [hour(ten - timedelta(hours=1), "0.90"), hour(ten, "1.00")],
        currency="NOK", now=ten - timedelta(hours=2),
    )  # fmt: skip
    early = session(world, ten, 30, 10000)  # 10:00-10:30, 10 kWh at 1.00
    assert costing.price_finished(ten + timedelta(minutes=40)) == 1
    assert SessionCost.objects.get(session=early).cost == Decimal("10.00")

    # 10:45: the hour that runs may be re-posted (its price changes from here on) ...
    now = ten + timedelta(minutes=45)
    services.post_day_ahead(world.site_a, [hour(ten, "2.00")], currency="NOK", now=now)
    # ... but the session costed at the old price keeps its cost, and the sweep leaves it alone.
    assert costing.price_finished(now + timedelta(minutes=1)) == 0
    assert SessionCost.objects.get(session=early).cost == Decimal("10.00")
    assert cost_of(early) == Decimal("10.00")
    assert differences() == []
    # A session that ends after the re-post is costed at the new price.
    late = session(world, ten + timedelta(minutes=46), 10, 1000)
    assert costing.price_finished(now + timedelta(minutes=12)) == 1
    assert cost_of(late) == Decimal("2.00")

    # An hour that has ended is refused, naming its place in the posted list.
    for entries, key in (
        ([hour(ten - timedelta(hours=1), "5")], "prices[0]"),
        ([hour(ten, "5"), hour(ten - timedelta(hours=1), "5")], "prices[1]"),
    ):
        with pytest.raises(services.TariffError) as refused:
            services.post_day_ahead(world.site_a, entries, currency="NOK", now=now)
        assert "has passed" in refused.value.message_dict[key][0]
    assert cost_of(early) == Decimal("10.00")


def test_a_holiday_for_today_counts_for_the_whole_day_but_never_changes_a_costed_session(
    world: World,
) -> None:
    zone = ZoneInfo(world.site_a.time_zone)
    eight = datetime(2026, 3, 2, 8, tzinfo=zone)  # a Monday
    flat_price(world, eight)
    services.save_tariff(
        world.site_a, currency="NOK", effective_from=eight - timedelta(days=1),
        now=eight - timedelta(days=1),
        bands=[
            services.BandSpec("weekday", time(0), time(0), Decimal("0.30")),
            services.BandSpec("weekend", time(0), time(0), Decimal("0.10")),
        ],
    )  # fmt: skip
    costed = session(world, eight, 60, 10000)  # 08:00-09:00, 10 kWh on a weekday: 3.00
    assert costing.price_finished(eight + timedelta(minutes=65)) == 1
    assert cost_of(costed) == Decimal("3.00")

    # 09:10: today becomes a holiday (a weekend day) ...
    holiday = services.add_holiday(
        world.site_a, eight.date(), "Storm day", now=eight + timedelta(minutes=70)
    )
    # ... for the whole day: a session of today not costed yet is priced as on a weekend day ...
    later = session(world, eight + timedelta(minutes=20), 60, 10000)  # 08:20-09:20
    assert costing.price_finished(eight + timedelta(minutes=85)) == 1
    assert cost_of(later) == Decimal("1.00")
    # ... while the session costed before keeps its cost, also when the holiday goes again.
    assert cost_of(costed) == Decimal("3.00")
    services.remove_holiday(holiday, now=eight + timedelta(hours=2))
    assert costing.price_finished(eight + timedelta(hours=2, minutes=1)) == 0
    assert cost_of(costed) == Decimal("3.00") and cost_of(later) == Decimal("1.00")
    assert differences() == []
    # Yesterday's prices are history: no holiday is added or removed there.
    with pytest.raises(services.TariffError):
        services.add_holiday(world.site_a, eight.date(), now=eight + timedelta(days=1))
