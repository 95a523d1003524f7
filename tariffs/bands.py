"""Tariff bands as minute ranges of a day: the rules shared by the models, the form checks and
the price lookup (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time

DAY_MINUTES = 1440


def minute_of(moment: time) -> float:
    return moment.hour * 60 + moment.minute + moment.second / 60 + moment.microsecond / 6e7


def band_minutes(start: time, end: time) -> list[tuple[float, float]]:
    """A band as minute ranges ``[from, to)`` within a day: an end equal to the start is the
    whole day, an end before the start wraps past midnight (two ranges)."""
    low, high = minute_of(start), minute_of(end)
    if low == high:
        return [(0, DAY_MINUTES)]
    if high > low:
        return [(low, high)]
    return [(low, DAY_MINUTES), (0, high)] if high else [(low, DAY_MINUTES)]


def covers(start: time, end: time, moment: time) -> bool:
    minute = minute_of(moment)
    return any(low <= minute < high for low, high in band_minutes(start, end))


def first_overlap(
    bands: Iterable[tuple[time, time]],
) -> tuple[tuple[time, time], tuple[time, time]] | None:
    """Two bands (of one day type) that share a minute, or None."""
    seen: list[tuple[tuple[time, time], tuple[float, float]]] = []
    for band in bands:
        for low, high in band_minutes(*band):
            for other, (other_low, other_high) in seen:
                if low < other_high and other_low < high:
                    return other, band
        seen.extend((band, part) for part in band_minutes(*band))
    return None
