"""Usage summaries equal the sums over the sessions they cover: a property test over random
sessions that cross midnight, month ends and daylight-saving changes, at installations in
different time zones and with price changes (hypothesis, each example rolled back)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from auth_access.models import ChargeCard
from chargers.models import ChargeSession
from installations.models import Installation
from portal.tenancy import Action
from reporting.periods import DateRange
from reporting.queries import GroupBy, SessionFilter, summarise, totals
from tests.conftest import World
from tests.reporting.conftest import make_session, price_from

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")

# Instants where local days, months and clocks turn: Oslo's DST changes, New York's, month ends.
EDGES = [
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # Oslo springs forward at 01:00 UTC
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Oslo falls back at 01:00 UTC
    datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # New York springs forward at 07:00 UTC
    datetime(2026, 1, 31, 22, 45, tzinfo=UTC),  # the end of January in Oslo (23:00 UTC)
    datetime(2026, 5, 1, 3, 50, tzinfo=UTC),  # the end of April in New York (04:00 UTC)
    datetime(2026, 12, 31, 22, 59, tzinfo=UTC),  # New Year in Oslo
]
# Prices at site A change inside the range, once to another currency.
PRICES_A = [
    (datetime(2025, 12, 1, tzinfo=UTC), "2.1000", "NOK"),
    (datetime(2026, 3, 29, 1, 10, tzinfo=UTC), "2.7330", "NOK"),
    (datetime(2026, 6, 1, tzinfo=UTC), "0.3100", "EUR"),
]
PRICES_B = [(datetime(2026, 2, 1, tzinfo=UTC), "0.4470", "USD")]


@dataclass(frozen=True)
class Spec:
    site: int  # 0: A (Oslo), 1: B (New York)
    edge: int
    offset_min: int
    minutes: int
    energy_wh: int
    charging_share: float
    who: int  # 0: nobody, 1: first driver, 2: second driver (with a card)
    active: bool


specs = st.builds(
    Spec,
    site=st.integers(0, 1),
    edge=st.integers(0, len(EDGES) - 1),
    offset_min=st.integers(-180, 180),
    minutes=st.integers(0, 3000),
    energy_wh=st.integers(0, 90_000),
    charging_share=st.floats(0, 1),
    who=st.integers(0, 2),
    active=st.sampled_from([False, False, False, False, True]),
)


def _price_at(prices: list[tuple[datetime, str, str]], moment: datetime) -> tuple[Decimal, str]:
    in_force = [p for p in prices if p[0] <= moment]
    chosen = max(in_force, key=lambda p: p[0]) if in_force else min(prices, key=lambda p: p[0])
    return Decimal(chosen[1]), chosen[2]


def _bucket(group_by: GroupBy, local: date) -> date:
    if group_by == GroupBy.DAY:
        return local
    if group_by == GroupBy.WEEK:
        return local - timedelta(days=local.weekday())
    return local.replace(day=1)


def expected(sessions: list[ChargeSession], group_by: GroupBy, prices: dict[int, list]) -> dict:
    """The sums computed in Python, one session at a time."""
    sums: dict[tuple, list] = {}
    for s in sessions:
        installation = s.charger.installation
        zone = ZoneInfo(installation.time_zone)
        price, currency = _price_at(prices[installation.pk], s.stopped_at or timezone.now())
        cost = (Decimal(s.energy_wh) * price / 1000).quantize(Decimal("0.01"), ROUND_HALF_UP)
        connected = int((s.stopped_at - s.started_at).total_seconds()) if s.stopped_at else 0
        idle = max(0, connected - s.charging_seconds)
        if group_by == GroupBy.USER:
            key = s.user_id
        elif group_by == GroupBy.CARD:
            key = s.card_id
        elif group_by == GroupBy.CHARGER:
            key = s.charger_id
        elif group_by == GroupBy.INSTALLATION:
            key = installation.pk
        else:
            key = _bucket(group_by, s.started_at.astimezone(zone).date())
        row = sums.setdefault((installation.pk, key, currency), [0, 0, 0, 0, 0, Decimal("0.00")])
        for i, value in enumerate([1, s.energy_wh, connected, s.charging_seconds, idle, cost]):
            row[i] += value
    return {k: tuple(v) for k, v in sums.items()}


def actual(rows: list) -> dict:
    return {
        (r.installation_id, r.key, r.usage.currency): (
            r.usage.sessions, r.usage.energy_wh, r.usage.connected_s, r.usage.charging_s,
            r.usage.idle_s, r.usage.cost,
        )
        for r in rows
    }  # fmt: skip


@pytest.fixture
def sites(world: World) -> dict:
    Installation.objects.filter(pk=world.site_b.pk).update(time_zone="America/New_York")
    for at, price, currency in PRICES_A:
        price_from(world.site_a, at, price, currency)
    for at, price, currency in PRICES_B:
        price_from(world.site_b, at, price, currency)
    card = ChargeCard.objects.create(id_tag="PROP-1", user=world.dave)
    root = User.objects.create_superuser(email="root@example.com", password="x")
    from reporting.models import PricePeriod

    prices = {
        site.pk: [
            (p.effective_from, str(p.price_per_kwh), p.currency)
            for p in PricePeriod.objects.filter(installation=site)
        ]
        for site in (world.site_a, world.site_b)
    }
    return {"card": card, "root": root, "prices": prices}


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(specs, min_size=0, max_size=14),
    first=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    span=st.integers(0, 70),
)
def test_summaries_equal_the_sums_over_the_sessions_they_cover(
    world: World, sites: dict, batch: list[Spec], first: date, span: int
) -> None:
    with transaction.atomic():
        for n, spec in enumerate(batch):
            start = EDGES[spec.edge] + timedelta(minutes=spec.offset_min)
            charger = (world.charger_a1, world.charger_b1)[spec.site]
            user = (None, world.dora, world.dave)[spec.who]
            make_session(
                charger, start, minutes=spec.minutes, energy_wh=spec.energy_wh,
                charging_minutes=int(spec.minutes * spec.charging_share), user=user,
                card=sites["card"] if spec.who == 2 else None, id_tag=f"P{n}", active=spec.active,
            )  # fmt: skip
        visible = ChargeSession.objects.restrict(sites["root"], Action.VIEW)
        everything = list(visible.select_related("charger__installation"))
        days = DateRange(first, first + timedelta(days=span))
        in_days = [
            s for s in everything
            if days.first <= s.started_at.astimezone(ZoneInfo(s.charger.installation.time_zone)).date() <= days.last
        ]  # fmt: skip
        for group_by in GroupBy:
            assert actual(summarise(visible, group_by)) == expected(
                everything, group_by, sites["prices"]
            )
            ranged = SessionFilter(days=days).apply(visible)
            assert actual(summarise(ranged, group_by)) == expected(
                in_days, group_by, sites["prices"]
            )
        sums = totals(visible)
        assert sums.all.sessions == len(everything)
        assert sums.all.energy_wh == sum(s.energy_wh for s in everything)
        by_currency: dict[str, Decimal] = {}
        for (_site, _key, currency), row in expected(
            everything, GroupBy.INSTALLATION, sites["prices"]
        ).items():
            by_currency[currency] = by_currency.get(currency, Decimal("0.00")) + row[5]
        assert dict(sums.cost_by_currency) == by_currency
        transaction.set_rollback(True)


def test_one_installations_period_uses_its_own_local_midnights(world: World, sites: dict) -> None:
    # 23:30 on 31 January in Oslo is 22:30 UTC: January there, and in the January bucket.
    late = make_session(world.charger_a1, datetime(2026, 1, 31, 22, 30, tzinfo=UTC), energy_wh=1000)
    rows = summarise(ChargeSession.objects.restrict(world.alice, Action.VIEW), GroupBy.MONTH)
    assert [(r.key, r.usage.sessions) for r in rows] == [(date(2026, 1, 1), 1)]
    del late


class TestUsagePages:
    def test_the_usage_tab_sums_per_driver_and_draws_energy_per_day(
        self, world: World, client_as
    ) -> None:
        make_session(
            world.charger_a1, timezone.now() - timedelta(hours=2), user=world.dora, energy_wh=3000
        )
        make_session(
            world.charger_a2, timezone.now() - timedelta(hours=1), user=world.dave, energy_wh=1500
        )
        make_session(
            world.charger_b1, timezone.now() - timedelta(hours=1), user=world.oscar, energy_wh=9000
        )
        response = client_as(world.alice).get(
            reverse("reporting:usage", args=[world.site_a.pk]),
            {"group_by": "user", "period": "this_month"},
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "Dora Driver" in html and "Dave Driver" in html and "Oscar" not in html
        assert '<svg class="bar-chart"' in html and "Energy per day (kWh)" in html
        assert 'data-total="energy">4.500 ' in html

    def test_an_installer_sees_each_installation_they_serve(self, world: World, client_as) -> None:
        make_session(world.charger_a1, timezone.now() - timedelta(hours=2), energy_wh=3000)
        make_session(world.charger_b1, timezone.now() - timedelta(hours=1), energy_wh=9000)
        html = client_as(world.ingrid).get(reverse("reporting:across")).content.decode()
        assert "Harbour car park" in html and "Depot north" not in html
        # A driver serves no installation: nothing, not even their own charging.
        html = client_as(world.dora).get(reverse("reporting:across")).content.decode()
        assert "Harbour car park" not in html
