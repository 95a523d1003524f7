"""A finished session at an installation with a tariff costs its energy per slot times the
slot's price; reports and the daily rollup read that stored cost."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chargers.models import ChargeSession
from reporting.models import PricePeriod
from reporting.queries import facts_of
from reporting.rollup import differences
from tariffs import costing
from tariffs.models import SessionCost, Tariff, TariffBand
from tests.conftest import World

OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.django_db
def test_a_session_costs_each_hour_at_its_price_and_the_rollup_follows(world: World) -> None:
    site = world.site_a
    start = datetime(2026, 3, 2, 21, tzinfo=OSLO)  # a Monday
    PricePeriod.objects.create(
        installation=site, price_per_kwh=Decimal("0.50"), currency="NOK",
        effective_from=start - timedelta(days=30),
    )  # fmt: skip
    tariff = Tariff.objects.create(
        installation=site, currency="NOK", effective_from=start - timedelta(days=1)
    )
    TariffBand.objects.create(
        tariff=tariff, day_type="weekday", start_time=time(7), end_time=time(22),
        price_per_kwh=Decimal("0.30"),
    )  # fmt: skip
    TariffBand.objects.create(
        tariff=tariff, day_type="weekday", start_time=time(22), end_time=time(7),
        price_per_kwh=Decimal("0.10"),
    )  # fmt: skip
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="T",
        user=world.dora, status="completed", started_at=start, stopped_at=start + timedelta(hours=2),
        meter_start_wh=0, meter_stop_wh=20000, energy_wh=20000,
    )  # fmt: skip
    now = start + timedelta(hours=3)
    assert costing.price_finished(now) == 1
    priced = SessionCost.objects.get(session=session)
    # No readings: spread evenly, 10 kWh at 0.30 and 10 kWh at 0.10.
    assert priced.cost == Decimal("4.00") and priced.currency == "NOK"
    assert [slot["energy_wh"] for slot in priced.slots] == [10000, 10000]
    facts = facts_of(ChargeSession.objects.filter(pk=session.pk)).get()
    assert facts.cost == Decimal("4.00") and facts.price == Decimal("0.2000")
    assert differences() == []
    assert costing.price_finished(now) == 0  # safe to run twice
    # A later price change does not rewrite it.
    PricePeriod.objects.create(
        installation=site, price_per_kwh=Decimal("9"), currency="NOK", effective_from=timezone.now()
    )
    assert facts_of(ChargeSession.objects.filter(pk=session.pk)).get().cost == Decimal("4.00")
    assert differences() == []
    priced.delete()
    assert facts_of(ChargeSession.objects.filter(pk=session.pk)).get().cost == Decimal("10.00")
    assert differences() == []
