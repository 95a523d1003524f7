"""Named periods (today, this week, ... , a custom range) as instants, in a time zone. Pure.

A period is half-open: ``[start, end)``. Weeks start on Monday (ISO 8601). Boundaries are local
midnights of the installation's time zone, so "today" in Oslo is 23 or 25 hours long on the days
the clocks change, and "this month" ends at the local midnight that starts the next month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Period(StrEnum):
    TODAY = "today"
    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    CUSTOM = "custom"

    @property
    def label(self) -> str:
        return PERIOD_LABELS[self]


PERIOD_LABELS = {
    Period.TODAY: "Today",
    Period.THIS_WEEK: "This week",
    Period.LAST_WEEK: "Last week",
    Period.THIS_MONTH: "This month",
    Period.LAST_MONTH: "Last month",
    Period.THIS_YEAR: "This year",
    Period.CUSTOM: "Custom range",
}


@dataclass(frozen=True)
class DateRange:
    """Local calendar days ``first`` to ``last``, both included."""

    first: date
    last: date

    def instants(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The half-open range of instants: local midnight of ``first`` to that after ``last``."""
        return local_midnight(self.first, zone), local_midnight(self.last + timedelta(days=1), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day begins (a DST gap at midnight moves it forward, as clocks do)."""
    naive = datetime.combine(day, time.min)
    aware = naive.replace(tzinfo=zone)
    # Round trip through UTC: a wall time inside a gap becomes the first instant after it.
    return aware.astimezone(ZoneInfo("UTC")).astimezone(zone)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def days_of(
    period: Period, today: date, first: date | None = None, last: date | None = None
) -> DateRange:
    """The local days a named period covers, seen from the local date ``today``."""
    if period == Period.TODAY:
        return DateRange(today, today)
    if period == Period.THIS_WEEK:
        monday = today - timedelta(days=today.weekday())
        return DateRange(monday, monday + timedelta(days=6))
    if period == Period.LAST_WEEK:
        monday = today - timedelta(days=today.weekday() + 7)
        return DateRange(monday, monday + timedelta(days=6))
    if period == Period.THIS_MONTH:
        start = month_start(today)
        return DateRange(start, next_month(start) - timedelta(days=1))
    if period == Period.LAST_MONTH:
        end = month_start(today) - timedelta(days=1)
        return DateRange(month_start(end), end)
    if period == Period.THIS_YEAR:
        return DateRange(date(today.year, 1, 1), date(today.year, 12, 31))
    if first is None or last is None:
        raise ValueError("A custom range needs a first and a last day.")
    if first > last:
        raise ValueError("The range ends before it starts.")
    return DateRange(first, last)


def period_instants(
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    first: date | None = None,
    last: date | None = None,
) -> tuple[datetime, datetime]:
    """``[start, end)`` of a named period at ``now``, in the time zone ``zone``."""
    today = now.astimezone(zone).date()
    return days_of(period, today, first, last).instants(zone)
