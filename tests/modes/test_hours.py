"""Allowed hours (modes.hours): windows per kind of day, wrapping midnight, holidays as weekend."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from modes.hours import Window, allowed_at, allowed_until, next_allowed, window_problem

OSLO = ZoneInfo("Europe/Oslo")
NIGHTS = [Window("weekday", time(22), time(6)), Window("weekend", time(10), time(16))]


def _weekend(day: date) -> bool:
    return day.weekday() >= 5 or day == date(2026, 12, 24)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=OSLO)


def test_a_window_wraps_midnight_into_the_next_morning_whatever_day_it_is() -> None:
    assert allowed_at(NIGHTS, _at(7, 23), OSLO, _weekend)  # Monday night
    assert allowed_at(NIGHTS, _at(8, 5, 59), OSLO, _weekend)  # Tuesday morning
    assert not allowed_at(NIGHTS, _at(8, 6), OSLO, _weekend)
    assert allowed_at(NIGHTS, _at(12, 3), OSLO, _weekend)  # Friday's window, Saturday morning
    assert not allowed_at(NIGHTS, _at(12, 23), OSLO, _weekend)  # Saturday night: weekend hours
    assert allowed_at(NIGHTS, _at(12, 11), OSLO, _weekend)


def test_a_holiday_counts_as_weekend() -> None:
    thursday_christmas_eve = _at(24, 12)
    assert allowed_at(NIGHTS, thursday_christmas_eve, OSLO, _weekend)
    assert not allowed_at(NIGHTS, _at(24, 23), OSLO, _weekend)


def test_next_allowed_says_until_when_a_car_waits() -> None:
    assert next_allowed(NIGHTS, _at(7, 12), OSLO, _weekend) == _at(7, 22)
    assert next_allowed(NIGHTS, _at(12, 17), OSLO, _weekend) == _at(13, 10)
    assert next_allowed(NIGHTS, _at(7, 23), OSLO, _weekend) == _at(7, 23)
    assert next_allowed([], _at(7, 12), OSLO, _weekend) == _at(7, 12)  # no windows: any time
    assert allowed_until(NIGHTS, _at(7, 23), OSLO, _weekend) == _at(8, 6)
    # the moment is compared in the installation's time zone
    assert next_allowed(NIGHTS, datetime(2026, 12, 7, 11, tzinfo=UTC), OSLO, _weekend) == _at(7, 22)


def test_overlaps_are_found_across_midnight_and_only_within_a_kind_of_day() -> None:
    assert window_problem(NIGHTS) is None
    assert "overlap" in window_problem([*NIGHTS, Window("weekday", time(5), time(7))])
    assert window_problem([*NIGHTS, Window("weekend", time(5), time(7))]) is None
    assert "ends when it starts" in window_problem([Window("weekday", time(8), time(8))])
