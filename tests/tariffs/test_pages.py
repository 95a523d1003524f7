"""The Prices tab with the test client (tariff bars, a new tariff, holidays, the hour-by-hour
prices, who may see it) and the cost per price slot on a session's page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chargers.models import ChargeSession
from reporting.models import PricePeriod
from tariffs import services
from tariffs.models import DayAheadPrice, Holiday, Tariff
from tests.conftest import World
from tests.tariffs.conftest import priced_session
from tests.web.conftest import field_errors

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


def url(world: World) -> str:
    return reverse("tariffs:prices", args=[world.site_a.pk])


def html(response: object) -> str:
    return unescape(response.content.decode())  # type: ignore[attr-defined]


def post_tariff(client: Client, world: World, **fields: str) -> object:
    data = {"form": "tariff", "currency": "NOK", "weekday": "", "weekend": "", **fields}
    return client.post(url(world), data)


def test_an_owner_adds_a_tariff_and_sees_its_bands_on_the_bars(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    page = client.get(url(world))
    assert page.status_code == 200
    assert 'data-testid="tariff-none"' in html(page)
    answer = post_tariff(
        client, world, weekday="07:00-22:00 0.32, 22:00-07:00 0.12", weekend="00:00-00:00 0.10"
    )
    assert answer.status_code == 302  # type: ignore[attr-defined]
    tariff = Tariff.objects.get(installation=world.site_a)
    bands = sorted((b.day_type, b.start_time, b.price_per_kwh) for b in tariff.bands.all())
    assert bands == [
        ("weekday", time(7), Decimal("0.32")),
        ("weekday", time(22), Decimal("0.12")),
        ("weekend", time(0), Decimal("0.10")),
    ]
    page = html(client.get(url(world)))
    assert 'data-testid="tariff-current"' in page
    # 07:00-22:00 is 29.17 % of the day from the left, 62.5 % wide; the night band in two pieces
    assert "left:29.17%;width:62.5%" in page and "left:91.67%;width:8.33%" in page
    assert "left:0.0%;width:29.17%" in page or "left:0%;width:29.17%" in page
    assert "left:0.0%;width:100.0%" in page or "left:0%;width:100%" in page  # the whole weekend
    assert 'value="07:00-22:00 0.32, 22:00-07:00 0.12"' in page  # the form starts from it


def test_a_scheduled_tariff_can_be_cancelled_and_one_that_has_begun_cannot(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.ingrid)  # an installer of the site
    tomorrow = timezone.now().astimezone(ZoneInfo(world.site_a.time_zone)) + timedelta(days=1)
    answer = post_tariff(
        client, world, weekday="10:00-14:00 0.05", effective_from=f"{tomorrow:%Y-%m-%dT%H:%M}"
    )
    assert answer.status_code == 302  # type: ignore[attr-defined]
    scheduled = Tariff.objects.get(installation=world.site_a)
    assert 'data-testid="tariff-scheduled"' in html(client.get(url(world)))
    begun = services.save_tariff(world.site_a, currency="NOK", bands=[])
    client.post(url(world), {"form": "cancel", "id": begun.pk})
    assert Tariff.objects.filter(pk=begun.pk).exists()  # history
    client.post(url(world), {"form": "cancel", "id": scheduled.pk})
    assert not Tariff.objects.filter(pk=scheduled.pk).exists()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"weekday": "07:00-22:00 0.32, 21:00-23:00 0.5"}, "weekday", "overlap"),
        ({"weekday": "7 to 22 0.32"}, "weekday", "is not a band"),
        ({"weekday": "07:00-25:00 0.32"}, "weekday", "out of range"),
        ({"weekday": "07:00-22:00 -0.32"}, "weekday", "negative"),
        ({"weekend": "07:00-22:00 0.1, 08:00-09:00 0.2"}, "weekday", "overlap"),
        ({"currency": "kroner"}, "currency", ""),
        ({"effective_from": "2020-01-01T00:00"}, "effective_from", "past"),
    ],
)
def test_a_bad_tariff_is_refused_with_a_message_by_its_field(
    world: World, client_as: ClientAs, fields: dict[str, str], field: str, message: str
) -> None:
    answer = post_tariff(client_as(world.alice), world, **fields)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    problems = " ".join(field_errors(answer, field))
    assert problems and message in problems.lower(), problems
    assert not Tariff.objects.exists()


def test_holidays_are_added_and_removed_not_in_the_past(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    today = services.local_today(world.site_a)
    day = today + timedelta(days=3)
    answer = client.post(url(world), {"form": "holiday", "date": f"{day:%Y-%m-%d}", "name": "Fest"})
    assert answer.status_code == 302  # type: ignore[attr-defined]
    holiday = Holiday.objects.get(installation=world.site_a)
    assert holiday.date == day and "Fest" in html(client.get(url(world)))
    past = client.post(
        url(world), {"form": "holiday", "date": f"{today - timedelta(days=1):%Y-%m-%d}"}
    )
    assert past.status_code == 400 and "past" in " ".join(field_errors(past, "date"))  # type: ignore[attr-defined]
    again = client.post(url(world), {"form": "holiday", "date": f"{day:%Y-%m-%d}"})
    assert "already a holiday" in " ".join(field_errors(again, "date"))
    client.post(url(world), {"form": "unholiday", "id": holiday.pk})
    assert not Holiday.objects.exists()


def test_the_hours_of_today_and_tomorrow_show_their_price_and_source(
    world: World, client_as: ClientAs
) -> None:
    zone = ZoneInfo(world.site_a.time_zone)
    PricePeriod.objects.create(
        installation=world.site_a, price_per_kwh=Decimal("0.50"), currency="NOK",
        effective_from=timezone.now() - timedelta(days=10),
    )  # fmt: skip
    tomorrow = (timezone.now().astimezone(zone) + timedelta(days=1)).replace(
        hour=3, minute=0, second=0, microsecond=0
    )
    DayAheadPrice.objects.create(
        installation=world.site_a, start=tomorrow, end=tomorrow + timedelta(hours=1),
        price_per_kwh=Decimal("-0.05"), currency="NOK",
    )  # fmt: skip
    page = html(client_as(world.alice).get(url(world)))
    assert page.count('class="price-bar') >= 47  # 48 hours (47 or 49 on a DST day)
    assert "price-negative" in page and "-0.05 NOK" in page and "Day-ahead price" in page
    assert "0.5 NOK" in page and "Flat price" in page


@pytest.mark.parametrize("who", ["dora", "oscar"])
def test_drivers_and_other_tenants_get_a_404(world: World, client_as: ClientAs, who: str) -> None:
    client = client_as(getattr(world, who))
    assert client.get(url(world)).status_code == 404
    answer = post_tariff(client, world, weekday="07:00-22:00 0.32")
    assert answer.status_code == 404  # type: ignore[attr-defined]
    assert not Tariff.objects.exists()


def test_another_sites_holiday_cannot_be_removed_through_this_page(
    world: World, client_as: ClientAs
) -> None:
    other = Holiday.objects.create(
        installation=world.site_c, date=services.local_today(world.site_c) + timedelta(days=2)
    )
    client = client_as(world.ingrid)  # installer of both sites: still one site per page
    assert client.post(url(world), {"form": "unholiday", "id": other.pk}).status_code == 404
    assert Holiday.objects.filter(pk=other.pk).exists()


def test_a_session_priced_slot_by_slot_shows_its_cost_per_slot(
    world: World, client_as: ClientAs
) -> None:
    session = priced_session(world)
    start = session.started_at
    mine = html(client_as(world.dora).get(reverse("reporting:my_session", args=[session.pk])))
    owner = html(
        client_as(world.alice).get(reverse("reporting:session", args=[world.site_a.pk, session.pk]))
    )
    for page in (mine, owner):
        assert 'data-testid="session-cost-slots"' in page
        assert page.count("data-slot=") == 2
        assert "0.3 NOK" in page and "0.1 NOK" in page and "3.00 NOK" in page
        assert "1.00 NOK" in page and "4.00 NOK" in page  # the total
    flat = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="T",
        user=world.dora, status="completed", started_at=start - timedelta(days=40),
        stopped_at=start - timedelta(days=40) + timedelta(hours=1), meter_start_wh=0,
        meter_stop_wh=1000, energy_wh=1000,
    )  # fmt: skip
    page = html(client_as(world.dora).get(reverse("reporting:my_session", args=[flat.pk])))
    assert 'data-testid="session-cost-slots"' not in page  # flat: the one Cost figure
