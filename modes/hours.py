"""Allowed charging hours (the Scheduled mode), pure: no database, no clock.

A window belongs to the day it starts on (weekday or weekend; a holiday counts as weekend) and
runs from ``start`` to ``end`` in local wall-clock time; an ``end`` before ``start`` wraps past
midnight into the next morning, whatever kind of day that is. An empty set of windows restricts
nothing. Times are compared as local wall-clock times, so a window keeps its hours across a
daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from modes.choices import DayType

DAY = timedelta(days=1)
MINUTES_PER_DAY = 24 * 60
# How far ahead ``next_allowed`` looks (a week plus a long holiday).
HORIZON_DAYS = 15


@dataclass(frozen=True)
class Window:
    """One allowed-hours window."""

    day_type: str
    start: time
    end: time

    def minutes(self) -> tuple[int, int]:
        """Start and end in minutes from the start of its day; the end may pass 1440 (wraps)."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return start, end + MINUTES_PER_DAY if end <= start else end


def window_problem(windows: Sequence[Window]) -> str | None:
    """Why this set of windows cannot be saved (an empty one, or two that overlap), or None."""
    for window in windows:
        if window.start.replace(second=0, microsecond=0) == window.end.replace(
            second=0, microsecond=0
        ):
            return (
                f"The window {window.start:%H:%M}-{window.end:%H:%M} ends when it starts; "
                "for a whole day use 00:00-23:59."
            )
    for index, first in enumerate(windows):
        for second in windows[index + 1 :]:
            if first.day_type != second.day_type:
                continue
            a_start, a_end = first.minutes()
            b_start, b_end = second.minutes()
            # On consecutive days of the same kind, a window that wraps meets the next day's.
            if any(
                a_start < b_end + shift and b_start + shift < a_end
                for shift in (-MINUTES_PER_DAY, 0, MINUTES_PER_DAY)
            ):
                return (
                    f"The {DayType(first.day_type).label} windows "
                    f"{first.start:%H:%M}-{first.end:%H:%M} and "
                    f"{second.start:%H:%M}-{second.end:%H:%M} overlap."
                )
    return None


def _intervals(
    windows: Iterable[Window], day: date, is_weekend: Callable[[date], bool]
) -> list[tuple[datetime, datetime]]:
    """The naive local intervals the windows give on the day they start."""
    kind = DayType.WEEKEND if is_weekend(day) else DayType.WEEKDAY
    midnight = datetime.combine(day, time())
    intervals = []
    for window in windows:
        if window.day_type != kind:
            continue
        start, end = window.minutes()
        intervals.append((midnight + timedelta(minutes=start), midnight + timedelta(minutes=end)))
    return intervals


def allowed_at(
    windows: Sequence[Window], moment: datetime, tz: ZoneInfo, is_weekend: Callable[[date], bool]
) -> bool:
    """Whether charging is allowed at ``moment`` (aware) under ``windows``."""
    if not windows:
        return True
    local = moment.astimezone(tz).replace(tzinfo=None)
    return any(
        start <= local < end
        for day in (local.date() - DAY, local.date())
        for start, end in _intervals(windows, day, is_weekend)
    )


def next_allowed(
    windows: Sequence[Window], moment: datetime, tz: ZoneInfo, is_weekend: Callable[[date], bool]
) -> datetime | None:
    """The first moment from ``moment`` on when charging is allowed: ``moment`` itself when it
    is, None when no window opens within ``HORIZON_DAYS``."""
    if allowed_at(windows, moment, tz, is_weekend):
        return moment
    local = moment.astimezone(tz).replace(tzinfo=None)
    starts = [
        start
        for offset in range(HORIZON_DAYS + 1)
        for start, _ in _intervals(windows, local.date() + offset * DAY, is_weekend)
        if start > local
    ]
    return min(starts).replace(tzinfo=tz) if starts else None


def allowed_until(
    windows: Sequence[Window], moment: datetime, tz: ZoneInfo, is_weekend: Callable[[date], bool]
) -> datetime | None:
    """When the allowed time that contains ``moment`` ends (None: not allowed now, or no
    windows). Windows that touch or overlap across days are followed as one stretch."""
    if not windows or not allowed_at(windows, moment, tz, is_weekend):
        return None
    local = moment.astimezone(tz).replace(tzinfo=None)
    intervals = sorted(
        interval
        for offset in range(-1, HORIZON_DAYS + 1)
        for interval in _intervals(windows, local.date() + offset * DAY, is_weekend)
    )
    end = local
    for start, stop in intervals:
        if start <= end < stop:
            end = stop
    return end.replace(tzinfo=tz)
