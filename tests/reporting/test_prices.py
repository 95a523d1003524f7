"""The price history: append-only, initial rows, settings changes, scheduled prices, the page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from installations.services import create_installation
from reporting import services
from reporting.models import PriceHistoryError, PricePeriod
from tests.conftest import World

pytestmark = pytest.mark.django_db


def test_a_new_installation_starts_its_price_history_with_its_price(world: World) -> None:
    site = create_installation(
        world.alice, name="Fjord", main_fuse_a=40, price_per_kwh="2.5", currency="NOK"
    )
    (period,) = PricePeriod.objects.filter(installation=site)
    assert (period.price_per_kwh, period.currency) == (Decimal("2.5000"), "NOK")
    assert period.effective_from == site.created_at


def test_changing_the_price_in_the_settings_appends_a_period_from_now(world: World) -> None:
    before = timezone.now()
    world.site_a.price_per_kwh = Decimal("4.2")
    world.site_a.save()
    latest = (
        PricePeriod.objects.filter(installation=world.site_a).order_by("-effective_from").first()
    )
    assert latest.price_per_kwh == Decimal("4.2000") and latest.effective_from >= before
    assert PricePeriod.objects.filter(installation=world.site_a).count() == 2
    world.site_a.name = "Renamed"
    world.site_a.save()  # not a price change: nothing appended
    assert PricePeriod.objects.filter(installation=world.site_a).count() == 2


def test_a_begun_period_cannot_be_changed_or_deleted(world: World) -> None:
    period = PricePeriod.objects.get(installation=world.site_a)
    period.price_per_kwh = Decimal(9)
    with pytest.raises(PriceHistoryError):
        period.save()
    with pytest.raises(PriceHistoryError):
        period.delete()
    with pytest.raises(services.PriceError):
        services.cancel_price(period)


def test_a_scheduled_price_applies_when_it_begins_and_the_task_is_idempotent(world: World) -> None:
    now = timezone.now()
    services.schedule_price(
        world.site_a,
        price_per_kwh=Decimal("7"),
        currency="nok",
        effective_from=now + timedelta(hours=1),
    )
    world.site_a.refresh_from_db()
    assert world.site_a.price_per_kwh == Decimal(0)  # not yet
    assert services.apply_due_prices(now=now + timedelta(hours=2)) == 1
    assert services.apply_due_prices(now=now + timedelta(hours=2)) == 0
    world.site_a.refresh_from_db()
    assert (world.site_a.price_per_kwh, world.site_a.currency) == (Decimal("7.0000"), "NOK")
    # Mirroring is an UPDATE: it appends nothing.
    assert PricePeriod.objects.filter(installation=world.site_a).count() == 2


def test_a_price_never_starts_in_the_past(world: World) -> None:
    with pytest.raises(services.PriceError):
        services.schedule_price(
            world.site_a,
            price_per_kwh=Decimal(1),
            currency="EUR",
            effective_from=timezone.now() - timedelta(hours=1),
        )


class TestThePricePage:
    def test_an_owner_sets_a_price_from_a_local_time(self, world: World, client_as) -> None:
        client = client_as(world.alice)
        page = client.get(reverse("reporting:history", args=[world.site_a.pk])).content.decode()
        assert 'data-testid="price-card"' in page
        local = (
            (timezone.now() + timedelta(days=3))
            .astimezone(ZoneInfo("Europe/Oslo"))
            .replace(second=0, microsecond=0)
        )
        response = client.post(
            reverse("reporting:price_create", args=[world.site_a.pk]),
            {
                "price_per_kwh": "3.25",
                "currency": "nok",
                "effective_from": local.strftime("%Y-%m-%dT%H:%M"),
            },
        )
        assert response.status_code == 302
        period = (
            PricePeriod.objects.filter(installation=world.site_a)
            .order_by("-effective_from")
            .first()
        )
        assert period.effective_from == local and period.currency == "NOK"
        page = client.get(reverse("reporting:history", args=[world.site_a.pk])).content.decode()
        assert "3.25 NOK per kWh" in page
        response = client.post(reverse("reporting:price_cancel", args=[world.site_a.pk, period.pk]))
        assert response.status_code == 302
        assert not PricePeriod.objects.filter(pk=period.pk).exists()

    def test_a_past_start_is_a_form_error(self, world: World, client_as) -> None:
        response = client_as(world.alice).post(
            reverse("reporting:price_create", args=[world.site_a.pk]),
            {"price_per_kwh": "3", "currency": "EUR", "effective_from": "2020-01-01T10:00"},
        )
        assert response.status_code == 200
        assert "A new price cannot start in the past." in response.content.decode()

    def test_drivers_and_other_owners_cannot_set_prices(self, world: World, client_as) -> None:
        url = reverse("reporting:price_create", args=[world.site_a.pk])
        for persona in (world.dora, world.oscar):
            assert (
                client_as(persona).post(url, {"price_per_kwh": "0", "currency": "EUR"}).status_code
                == 404
            )
        page = (
            client_as(world.dora)
            .get(reverse("reporting:history", args=[world.site_a.pk]))
            .content.decode()
        )
        assert 'data-testid="price-card"' not in page
        begun = PricePeriod.objects.get(installation=world.site_a)
        cancel = reverse("reporting:price_cancel", args=[world.site_a.pk, begun.pk])
        client_as(world.alice).post(cancel)
        assert PricePeriod.objects.filter(pk=begun.pk).exists()
