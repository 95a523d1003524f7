"""tariffs.prices: an installation's price over time as contiguous slots (docs/tariffs.md)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reporting.models import PricePeriod
from tariffs.choices import DayType, PriceSource
from tariffs.models import DayAheadPrice, Holiday, Tariff, TariffBand
from tariffs.prices import (
    Band,
    PriceSlot,
    Schedule,
    TariffRule,
    holidays_between,
    is_holiday,
    price_slots,
    slots_of,
)
from tests.conftest import World

OSLO = ZoneInfo("Europe/Oslo")
EARLY = datetime(2020, 1, 1, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


def peak_offpeak(effective_from: datetime = EARLY) -> TariffRule:
    """Peak 07-22 at 0.32 on weekdays, off-peak 22-07 at 0.12; weekends 0.10 all day."""
    return TariffRule(
        effective_from,
        "NOK",
        [
            Band(DayType.WEEKDAY, time(7), time(22), Decimal("0.32")),
            Band(DayType.WEEKDAY, time(22), time(7), Decimal("0.12")),
            Band(DayType.WEEKEND, time(0), time(0), Decimal("0.10")),
        ],
    )


def assert_contiguous(slots: list[PriceSlot], start: datetime, end: datetime) -> None:
    assert slots[0].start == start and slots[-1].end == end
    for before, after in itertools.pairwise(slots):
        assert before.end == after.start
    assert all(slot.end - slot.start <= timedelta(hours=1) for slot in slots)


# --- the pure core ---------------------------------------------------------------------------


def test_no_price_at_all_gives_hourly_slots_without_a_price() -> None:
    start = local(2026, 3, 2, 10, 30)
    slots = slots_of(Schedule(OSLO), start, start + timedelta(hours=3))
    assert_contiguous(slots, start, start + timedelta(hours=3))
    assert [slot.price_per_kwh for slot in slots] == [None] * 4
    assert {slot.source for slot in slots} == {PriceSource.FLAT}


def test_a_flat_price_is_split_at_hours_and_at_a_price_change() -> None:
    change = local(2026, 3, 2, 12, 15)
    schedule = Schedule(
        OSLO,
        flat=[(local(2026, 1, 1), Decimal("0.20"), "NOK"), (change, Decimal("0.25"), "NOK")],
    )
    slots = slots_of(schedule, local(2026, 3, 2, 11), local(2026, 3, 2, 13))
    assert [(s.start, s.price_per_kwh) for s in slots] == [
        (local(2026, 3, 2, 11), Decimal("0.20")),
        (local(2026, 3, 2, 12), Decimal("0.20")),
        (change, Decimal("0.25")),
    ]


def test_the_first_flat_price_also_covers_the_time_before_it() -> None:
    schedule = Schedule(OSLO, flat=[(local(2026, 6, 1), Decimal("0.20"), "NOK")])
    slots = slots_of(schedule, local(2026, 1, 1), local(2026, 1, 1, 1))
    assert slots[0].price_per_kwh == Decimal("0.20")


def test_tariff_bands_follow_local_time_wrap_midnight_and_weekends() -> None:
    schedule = Schedule(OSLO, tariffs=[peak_offpeak()])
    friday_evening = local(2026, 3, 6, 20)  # a Friday
    slots = slots_of(schedule, friday_evening, friday_evening + timedelta(hours=6))
    assert [(s.start.astimezone(OSLO).hour, s.price_per_kwh) for s in slots] == [
        (20, Decimal("0.32")),
        (21, Decimal("0.32")),
        (22, Decimal("0.12")),
        (23, Decimal("0.12")),
        (0, Decimal("0.10")),  # Saturday: the weekend band, whatever the weekday bands say
        (1, Decimal("0.10")),
    ]
    assert {s.source for s in slots} == {PriceSource.TARIFF}


def test_a_holiday_is_priced_as_a_weekend_day() -> None:
    schedule = Schedule(OSLO, tariffs=[peak_offpeak()], holidays={date(2026, 5, 1)})
    slots = slots_of(schedule, local(2026, 5, 1, 12), local(2026, 5, 1, 13))  # a Friday
    assert slots[0].price_per_kwh == Decimal("0.10")


def test_a_gap_between_bands_falls_back_to_the_flat_price() -> None:
    rule = TariffRule(EARLY, "NOK", [Band(DayType.WEEKDAY, time(7), time(22), Decimal("0.32"))])
    schedule = Schedule(OSLO, flat=[(EARLY, Decimal("0.20"), "NOK")], tariffs=[rule])
    slots = slots_of(schedule, local(2026, 3, 2, 6), local(2026, 3, 2, 8))
    assert [(s.price_per_kwh, s.source) for s in slots] == [
        (Decimal("0.20"), PriceSource.FLAT),
        (Decimal("0.32"), PriceSource.TARIFF),
    ]


def test_a_band_off_the_hour_splits_the_slot_where_it_starts() -> None:
    rule = TariffRule(
        EARLY,
        "NOK",
        [
            Band(DayType.WEEKDAY, time(6, 30), time(22), Decimal("0.32")),
            Band(DayType.WEEKDAY, time(22), time(6, 30), Decimal("0.12")),
        ],
    )
    slots = slots_of(Schedule(OSLO, tariffs=[rule]), local(2026, 3, 2, 6), local(2026, 3, 2, 7))
    assert [(s.start, s.price_per_kwh) for s in slots] == [
        (local(2026, 3, 2, 6), Decimal("0.12")),
        (local(2026, 3, 2, 6, 30), Decimal("0.32")),
    ]


def test_day_ahead_prices_override_the_tariff_where_they_cover_even_negative() -> None:
    quarter = local(2026, 3, 2, 12, 15)
    schedule = Schedule(
        OSLO,
        tariffs=[peak_offpeak()],
        day_ahead=[(quarter, quarter + timedelta(minutes=15), Decimal("-0.05"), "NOK")],
    )
    slots = slots_of(schedule, local(2026, 3, 2, 12), local(2026, 3, 2, 13))
    assert [(s.start, s.price_per_kwh, s.source) for s in slots] == [
        (local(2026, 3, 2, 12), Decimal("0.32"), PriceSource.TARIFF),
        (quarter, Decimal("-0.05"), PriceSource.DAY_AHEAD),
        (quarter + timedelta(minutes=15), Decimal("0.32"), PriceSource.TARIFF),
    ]


def test_a_new_tariff_replaces_the_old_one_from_its_start() -> None:
    cheaper = TariffRule(
        local(2026, 3, 2, 12),
        "NOK",
        [Band(DayType.WEEKDAY, time(0), time(0), Decimal("0.05"))],
    )
    schedule = Schedule(OSLO, tariffs=[peak_offpeak(), cheaper])
    slots = slots_of(schedule, local(2026, 3, 2, 11), local(2026, 3, 2, 13))
    assert [s.price_per_kwh for s in slots] == [Decimal("0.32"), Decimal("0.05")]


def test_hours_follow_the_local_clock_on_a_daylight_saving_day() -> None:
    # Oslo, 29 March 2026: 02:00 local does not exist; the day has 23 hours.
    start, end = local(2026, 3, 29), local(2026, 3, 30)
    slots = slots_of(Schedule(OSLO), start, end)
    assert len(slots) == 23
    assert_contiguous(slots, start, end)


def test_an_empty_or_reversed_range_has_no_slots() -> None:
    assert slots_of(Schedule(OSLO), local(2026, 3, 2, 12), local(2026, 3, 2, 12)) == []
    assert slots_of(Schedule(OSLO), local(2026, 3, 2, 12), local(2026, 3, 2, 11)) == []


# --- from the database -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_installation_without_any_price_gets_none(world: World) -> None:
    # Every installation gets a price period from its settings' price; one without any (the
    # periods of a site created before the price history) has no price at all.
    PricePeriod.objects.filter(installation=world.site_a).delete()
    start = local(2026, 3, 2, 10)
    slots = price_slots(world.site_a, start, start + timedelta(hours=2))
    assert [slot.price_per_kwh for slot in slots] == [None, None]


@pytest.mark.django_db
def test_price_slots_read_everything_in_one_query(world: World) -> None:
    site = world.site_a
    PricePeriod.objects.create(
        installation=site, price_per_kwh=Decimal("0.20"), currency="NOK", effective_from=EARLY
    )
    old = Tariff.objects.create(installation=site, currency="NOK", effective_from=EARLY)
    TariffBand.objects.create(
        tariff=old,
        day_type=DayType.WEEKDAY,
        start_time=time(0),
        end_time=time(0),
        price_per_kwh=Decimal("0.99"),
    )
    tariff = Tariff.objects.create(
        installation=site, currency="NOK", effective_from=local(2026, 1, 1)
    )
    for band in peak_offpeak().bands:
        TariffBand.objects.create(
            tariff=tariff,
            day_type=band.day_type,
            start_time=band.start_time,
            end_time=band.end_time,
            price_per_kwh=band.price_per_kwh,
        )
    Holiday.objects.create(installation=site, date=date(2026, 3, 3), name="Test day")
    DayAheadPrice.objects.create(
        installation=site,
        start=local(2026, 3, 2, 23),
        end=local(2026, 3, 3, 0),
        price_per_kwh=Decimal("0.01"),
        currency="NOK",
    )
    Tariff.objects.create(installation=world.site_b, currency="EUR", effective_from=EARLY)

    with CaptureQueriesContext(connection) as queries:
        slots = price_slots(site, local(2026, 3, 2, 21), local(2026, 3, 3, 1))
    assert len(queries) == 1
    assert [(s.price_per_kwh, s.source) for s in slots] == [
        (Decimal("0.32"), PriceSource.TARIFF),
        (Decimal("0.12"), PriceSource.TARIFF),
        (Decimal("0.01"), PriceSource.DAY_AHEAD),
        (Decimal("0.10"), PriceSource.TARIFF),  # the holiday: weekend band
    ]
    assert {s.currency for s in slots} == {"NOK"}


@pytest.mark.django_db
def test_holidays_of_an_installation(world: World) -> None:
    Holiday.objects.create(installation=world.site_a, date=date(2026, 12, 25), name="Christmas")
    Holiday.objects.create(installation=world.site_b, date=date(2026, 12, 24))
    assert is_holiday(world.site_a, date(2026, 12, 25))
    assert not is_holiday(world.site_a, date(2026, 12, 24))
    assert holidays_between(world.site_a, date(2026, 12, 1), date(2026, 12, 31)) == {
        date(2026, 12, 25)
    }
    assert holidays_between(world.site_a, date(2026, 12, 26), date(2026, 12, 31)) == set()
