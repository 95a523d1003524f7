"""An installation's price over time, as slots (docs/tariffs.md "Price slots").

``price_slots(installation, start, end)`` covers ``[start, end)`` with contiguous slots, split at
every price change and at every hour boundary of the installation's time zone. A slot's price is,
strongest first: the day-ahead price covering it, the band of the tariff in force for its local
time and day type (a holiday counts as a weekend day), the flat price in force (``PricePeriod``;
an installation's first period also covers everything before it, as in reports). With none of
them its price is None. One query per call: departure planning calls it every balancing tick.

``Schedule`` and ``slots_of`` are the pure core (no database), tested on their own.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.db import connection

from installations.models import Installation
from reporting.models import PricePeriod
from tariffs import bands
from tariffs.choices import DayType, PriceSource
from tariffs.models import DayAheadPrice, Holiday, Tariff, TariffBand

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class PriceSlot:
    """The price per kWh during ``[start, end)``; None when the installation has no price."""

    start: datetime
    end: datetime
    price_per_kwh: Decimal | None
    currency: str
    source: str  # a PriceSource value


@dataclass(frozen=True)
class Band:
    day_type: str
    start_time: time
    end_time: time
    price_per_kwh: Decimal


@dataclass
class TariffRule:
    effective_from: datetime
    currency: str
    bands: list[Band] = field(default_factory=list)


@dataclass
class Schedule:
    """Everything that prices an installation around a range, as read by ``_load``."""

    zone: ZoneInfo
    flat: list[tuple[datetime, Decimal, str]] = field(default_factory=list)  # sorted by start
    tariffs: list[TariffRule] = field(default_factory=list)  # sorted by effective_from
    day_ahead: list[tuple[datetime, datetime, Decimal, str]] = field(default_factory=list)
    holidays: set[date] = field(default_factory=set)

    @cached_property
    def _day_ahead_starts(self) -> list[datetime]:
        return [row[0] for row in self.day_ahead]

    @cached_property
    def _tariff_starts(self) -> list[datetime]:
        return [rule.effective_from for rule in self.tariffs]

    @cached_property
    def _flat_starts(self) -> list[datetime]:
        return [row[0] for row in self.flat]

    def is_weekend(self, day: date) -> bool:
        return day.weekday() >= 5 or day in self.holidays

    def boundaries(self, start: datetime, end: datetime) -> list[datetime]:
        """``start``, ``end`` and every instant between where the price may change."""
        points = {start, end}
        local = start.astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
        hour = local.astimezone(ZoneInfo("UTC"))
        if hour <= start:
            hour += HOUR
        while hour < end:
            points.add(hour)
            hour += HOUR
        changes = [row[0] for row in self.flat] + [rule.effective_from for rule in self.tariffs]
        changes += [moment for row in self.day_ahead for moment in row[:2]]
        odd_times = {
            moment
            for rule in self.tariffs
            for band in rule.bands
            for moment in (band.start_time, band.end_time)
            if moment.minute or moment.second or moment.microsecond
        }
        if odd_times:
            day = start.astimezone(self.zone).date() - timedelta(days=1)
            while day <= end.astimezone(self.zone).date() + timedelta(days=1):
                changes += [datetime.combine(day, moment, self.zone) for moment in odd_times]
                day += timedelta(days=1)
        points.update(moment for moment in changes if start < moment < end)
        return sorted(points)

    def price_at(self, moment: datetime) -> tuple[Decimal | None, str, str]:
        """(price per kWh, currency, source) at ``moment``; the price holds until the next
        boundary."""
        index = bisect.bisect_right(self._day_ahead_starts, moment) - 1
        if index >= 0 and self.day_ahead[index][1] > moment:
            _, _, price, currency = self.day_ahead[index]
            return price, currency, PriceSource.DAY_AHEAD
        index = bisect.bisect_right(self._tariff_starts, moment) - 1
        if index >= 0:
            rule = self.tariffs[index]
            local = moment.astimezone(self.zone)
            day_type = DayType.WEEKEND if self.is_weekend(local.date()) else DayType.WEEKDAY
            for band in rule.bands:
                if band.day_type == day_type and bands.covers(
                    band.start_time, band.end_time, local.time()
                ):
                    return band.price_per_kwh, rule.currency, PriceSource.TARIFF
        if not self.flat:
            return None, "", PriceSource.FLAT
        index = max(0, bisect.bisect_right(self._flat_starts, moment) - 1)
        _, price, currency = self.flat[index]
        return price, currency, PriceSource.FLAT


def slots_of(schedule: Schedule, start: datetime, end: datetime) -> list[PriceSlot]:
    """The price slots of ``schedule`` over ``[start, end)`` (none when ``end <= start``)."""
    if end <= start:
        return []
    slots = []
    for low, high in pairwise(schedule.boundaries(start, end)):
        price, currency, source = schedule.price_at(low)
        slots.append(PriceSlot(low, high, price, currency, str(source)))
    return slots


def price_slots(installation: Installation, start: datetime, end: datetime) -> list[PriceSlot]:
    """The installation's price over ``[start, end)`` as slots of at most an hour (see the module
    docstring). One query."""
    if end <= start:
        return []
    return slots_of(_load(installation, start, end), start, end)


def is_holiday(installation: Installation, day: date) -> bool:
    """Whether ``day`` (a local date) is one of the installation's holidays."""
    return Holiday.objects.filter(installation=installation, date=day).exists()


def holidays_between(installation: Installation, start_day: date, end_day: date) -> set[date]:
    """The installation's holidays from ``start_day`` to ``end_day``, both included."""
    return set(
        Holiday.objects.filter(
            installation=installation, date__range=(start_day, end_day)
        ).values_list("date", flat=True)
    )


def _load(installation: Installation, start: datetime, end: datetime) -> Schedule:
    """Read what prices ``[start, end)`` in one query: the flat periods, the tariffs in force
    (with their bands), the day-ahead prices and the holidays around the range."""
    zone = ZoneInfo(installation.time_zone)
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    tables = {
        "period": PricePeriod._meta.db_table,
        "tariff": Tariff._meta.db_table,
        "band": TariffBand._meta.db_table,
        "ahead": DayAheadPrice._meta.db_table,
        "holiday": Holiday._meta.db_table,
    }
    sql = """
        SELECT 'P', p.effective_from, NULL::timestamptz, NULL::date, NULL::time, NULL::time,
               p.price_per_kwh, p.currency, NULL::varchar
          FROM {period} p WHERE p.installation_id = %(id)s
        UNION ALL
        SELECT 'T', t.effective_from, NULL, NULL, b.start_time, b.end_time,
               b.price_per_kwh, t.currency, b.day_type
          FROM {tariff} t LEFT JOIN {band} b ON b.tariff_id = t.id
         WHERE t.installation_id = %(id)s AND t.effective_from < %(end)s
           AND t.effective_from >= COALESCE(
               (SELECT max(effective_from) FROM {tariff}
                 WHERE installation_id = %(id)s AND effective_from <= %(start)s), '-infinity')
        UNION ALL
        SELECT 'D', d.start, d."end", NULL, NULL, NULL, d.price_per_kwh, d.currency, NULL
          FROM {ahead} d
         WHERE d.installation_id = %(id)s AND d."end" > %(start)s AND d.start < %(end)s
        UNION ALL
        SELECT 'H', NULL, NULL, h.date, NULL, NULL, NULL, NULL, NULL
          FROM {holiday} h
         WHERE h.installation_id = %(id)s AND h.date BETWEEN %(first)s AND %(last)s
    """.format(**tables)
    params = {
        "id": installation.pk,
        "start": start,
        "end": end,
        "first": first_day,
        "last": last_day,
    }
    schedule = Schedule(zone)
    rules: dict[datetime, TariffRule] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, at, until, day, low, high, price, currency, day_type in cursor.fetchall():
            if kind == "P":
                schedule.flat.append((at, price, currency))
            elif kind == "T":
                rule = rules.setdefault(at, TariffRule(at, currency))
                if day_type is not None:
                    rule.bands.append(Band(day_type, low, high, price))
            elif kind == "D":
                schedule.day_ahead.append((at, until, price, currency))
            else:
                schedule.holidays.add(day)
    schedule.flat.sort(key=lambda row: row[0])
    schedule.tariffs = sorted(rules.values(), key=lambda rule: rule.effective_from)
    schedule.day_ahead.sort(key=lambda row: row[0])
    return schedule
