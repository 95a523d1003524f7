"""Workflows of tariffs (docs/tariffs.md): a new tariff from a time on, cancelling one that has not
begun, holidays, day-ahead prices posted from a market feed.

``TariffError`` is the one error class of this module (a ``ValidationError``: 400 naming the
field or the entry in the API, a form error on the pages).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from installations.models import Installation
from reporting.models import validate_currency
from tariffs import bands as band_rules
from tariffs.choices import DayType
from tariffs.models import DayAheadPrice, Holiday, Tariff, TariffBand

if TYPE_CHECKING:
    from accounts.models import User

# A tariff "from now" typed into a form reaches the server a little later; this much is still now.
NOW_TOLERANCE = timedelta(minutes=5)
# The largest price a column holds (8 digits, 4 decimals), either sign.
PRICE_LIMIT = Decimal("9999.9999")
# One post of day-ahead prices: at most this many entries (ten days of quarters), each at most a
# day long, ending at most this far ahead.
DAY_AHEAD_MAX_ENTRIES = 960
DAY_AHEAD_MAX_DURATION = timedelta(days=1)
DAY_AHEAD_HORIZON = timedelta(days=31)


class TariffError(ValidationError):
    """A change that is not allowed (overlapping bands, a start in the past, a gap in a price
    list, ...), with the field or entry it is about."""


@dataclass(frozen=True)
class BandSpec:
    """A band as asked for: its day type, local start and end (an end at or before the start
    wraps past midnight; equal: the whole day) and price per kWh."""

    day_type: str
    start_time: time
    end_time: time
    price_per_kwh: Decimal


@dataclass(frozen=True)
class DayAheadEntry:
    """One posted day-ahead price: ``[start, end)`` at ``price_per_kwh``."""

    start: datetime
    end: datetime
    price_per_kwh: Decimal


# --- tariffs ---------------------------------------------------------------------------------


def tariff_in_force(installation: Installation, at: datetime | None = None) -> Tariff | None:
    """The tariff that applies at ``at`` (default now), None before the first."""
    return (
        Tariff.objects.filter(installation=installation, effective_from__lte=at or timezone.now())
        .order_by("-effective_from")
        .prefetch_related("bands")
        .first()
    )


def scheduled_tariffs(installation: Installation, now: datetime | None = None) -> list[Tariff]:
    """The tariffs that have not begun, soonest first."""
    return list(
        Tariff.objects.filter(installation=installation, effective_from__gt=now or timezone.now())
        .order_by("effective_from")
        .prefetch_related("bands")
    )


def check_bands(specs: Sequence[BandSpec]) -> None:
    """Refuse a set of bands with a bad price or two bands of one day type that overlap."""
    for index, spec in enumerate(specs):
        if spec.day_type not in DayType.values:
            raise TariffError({f"bands[{index}]": f"Unknown day type {spec.day_type!r}."})
        problem = _price_problem(spec.price_per_kwh, allow_negative=False)
        if problem:
            raise TariffError({f"bands[{index}]": problem})
    for day_type in DayType:
        indexed = [(i, s) for i, s in enumerate(specs) if s.day_type == day_type]
        overlap = band_rules.first_overlap((s.start_time, s.end_time) for _, s in indexed)
        if overlap is None:
            continue
        first, second = overlap
        names = [
            f"{i} ({s.start_time:%H:%M}-{s.end_time:%H:%M})"
            for i, s in indexed
            if (s.start_time, s.end_time) in (first, second)
        ]
        raise TariffError(
            {
                "bands": f"{DayType(day_type).label}: bands {' and '.join(names[:2])} overlap; "
                "bands of one day type must not share a minute."
            }
        )


@transaction.atomic
def save_tariff(
    installation: Installation,
    *,
    currency: str,
    bands: Sequence[BandSpec],
    effective_from: datetime | None = None,
    name: str = "",
    user: User | None = None,
    now: datetime | None = None,
) -> Tariff:
    """A new tariff from ``effective_from`` (default now), never in the past: it replaces the one
    in force from then on, which stays as history. A scheduled tariff at the same start is
    replaced. No bands: the flat price applies again from then on."""
    now = now or timezone.now()
    start = effective_from or now
    if start < now - NOW_TOLERANCE:
        raise TariffError({"effective_from": "A new tariff cannot start in the past."})
    start = max(start, now)
    currency = (currency or "").upper()
    try:
        validate_currency(currency)
    except ValidationError as error:
        raise TariffError({"currency": error.messages}) from None
    check_bands(bands)
    Tariff.objects.filter(
        installation=installation, effective_from=start, effective_from__gt=now
    ).delete()
    if Tariff.objects.filter(installation=installation, effective_from=start).exists():
        raise TariffError({"effective_from": "A tariff already starts at this time."})
    tariff = Tariff.objects.create(
        installation=installation,
        name=name,
        currency=currency,
        effective_from=start,
        created_by=user,
    )
    TariffBand.objects.bulk_create(
        TariffBand(
            tariff=tariff,
            day_type=spec.day_type,
            start_time=spec.start_time,
            end_time=spec.end_time,
            price_per_kwh=spec.price_per_kwh,
        )
        for spec in bands
    )
    return tariff


def cancel_tariff(tariff: Tariff, now: datetime | None = None) -> None:
    """Drop a scheduled tariff that has not begun; one that has begun is history."""
    if tariff.has_begun(now):
        raise TariffError("This tariff has begun; it is history and cannot be cancelled.")
    tariff.delete()


# --- holidays --------------------------------------------------------------------------------


def local_today(installation: Installation, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(ZoneInfo(installation.time_zone)).date()


def add_holiday(
    installation: Installation, day: date, name: str = "", now: datetime | None = None
) -> Holiday:
    """Add a holiday (a local date that counts as a weekend day) from today on: a past day's
    prices are history."""
    if day < local_today(installation, now):
        raise TariffError({"date": "A holiday cannot be added in the past."})
    if Holiday.objects.filter(installation=installation, date=day).exists():
        raise TariffError({"date": f"{day:%Y-%m-%d} is already a holiday here."})
    holiday = Holiday(installation=installation, date=day, name=(name or "").strip())
    holiday.full_clean(exclude=["installation"])
    holiday.save()
    return holiday


def remove_holiday(holiday: Holiday, now: datetime | None = None) -> None:
    """Remove a holiday that has not passed (a past one is history)."""
    if holiday.date < local_today(holiday.installation, now):
        raise TariffError({"date": "A holiday that has passed is history."})
    holiday.delete()


# --- day-ahead prices ------------------------------------------------------------------------


def check_day_ahead(
    entries: Sequence[DayAheadEntry], now: datetime | None = None
) -> list[DayAheadEntry]:
    """The entries sorted by start, or a ``TariffError`` naming the first bad entry (its index in
    the posted list): no entries or too many, an end at or before its start, an entry longer
    than a day, passed or too far ahead, a price that is not a finite number within the column,
    two entries that overlap, a gap between two entries."""
    now = now or timezone.now()
    if not entries:
        raise TariffError({"prices": "Give at least one price."})
    if len(entries) > DAY_AHEAD_MAX_ENTRIES:
        raise TariffError(
            {"prices": f"At most {DAY_AHEAD_MAX_ENTRIES} prices in one request; split it."}
        )
    for index, entry in enumerate(entries):
        key = f"prices[{index}]"
        if entry.end <= entry.start:
            raise TariffError(
                {key: f"Ends at {entry.end.isoformat()}, not after its start; the duration "
                 "must be positive."}
            )  # fmt: skip
        if entry.end - entry.start > DAY_AHEAD_MAX_DURATION:
            raise TariffError({key: "Lasts more than a day; post hourly or quarter-hourly."})
        if entry.end <= now:
            raise TariffError({key: "Has passed; a price that has passed is history."})
        if entry.start > now + DAY_AHEAD_HORIZON:
            raise TariffError({key: "Starts more than 31 days ahead."})
        problem = _price_problem(entry.price_per_kwh, allow_negative=True)
        if problem:
            raise TariffError({key: problem})
    order = sorted(range(len(entries)), key=lambda i: entries[i].start)
    for before, after in itertools.pairwise(order):
        first, second = entries[before], entries[after]
        if second.start < first.end:
            raise TariffError(
                {f"prices[{after}]": f"Overlaps prices[{before}] (which ends at "
                 f"{first.end.isoformat()})."}
            )  # fmt: skip
        if second.start > first.end:
            raise TariffError(
                {f"prices[{after}]": f"Leaves a gap: starts at {second.start.isoformat()}, "
                 f"but prices[{before}] ends at {first.end.isoformat()}."}
            )  # fmt: skip
    return [entries[i] for i in order]


@transaction.atomic
def post_day_ahead(
    installation: Installation,
    entries: Sequence[DayAheadEntry],
    currency: str = "",
    now: datetime | None = None,
) -> list[DayAheadPrice]:
    """Store a contiguous list of day-ahead prices; they replace every stored price of the
    installation that overlaps the range they cover (a re-post of the same day replaces it).
    ``currency`` defaults to the installation's."""
    ordered = check_day_ahead(entries, now)
    currency = (currency or installation.currency or "").upper()
    try:
        validate_currency(currency)
    except ValidationError as error:
        raise TariffError({"currency": error.messages}) from None
    first, last = ordered[0].start, ordered[-1].end
    # Lock the installation row: two posts for one installation replace one after the other.
    Installation.objects.select_for_update().filter(pk=installation.pk).first()
    DayAheadPrice.objects.filter(installation=installation, end__gt=first, start__lt=last).delete()
    return DayAheadPrice.objects.bulk_create(
        DayAheadPrice(
            installation=installation,
            start=entry.start,
            end=entry.end,
            price_per_kwh=entry.price_per_kwh,
            currency=currency,
        )
        for entry in ordered
    )


def _price_problem(price: Decimal, *, allow_negative: bool) -> str:
    try:
        value = Decimal(price)
    except (InvalidOperation, TypeError, ValueError):
        return "The price is not a number."
    if not value.is_finite() or not math.isfinite(float(value)):
        return "The price must be a finite number."
    if value < 0 and not allow_negative:
        return "The price cannot be negative."
    if abs(value) > PRICE_LIMIT:
        return f"The price must be within ±{PRICE_LIMIT} per kWh."
    if value != value.quantize(Decimal("0.0001")):
        return "The price has more than 4 decimals."
    return ""
