"""Energy over time: a session's energy split into hours (or days), and its curves. Pure.

The input is what the charger measured: the session's meter start and stop and the
``Energy.Active.Import.Register`` samples it sent in between. They make a piecewise linear
curve of the energy delivered so far (``cumulative``):

- between two readings the energy grows linearly (interpolated across gaps, however long);
- a register that goes *down* (a reset, a replaced meter, a garbled value) adds nothing for that
  step, and counting resumes from the new value;
- the curve is scaled so that it ends at the session's own ``energy_wh`` (the figure history,
  totals and cost use), so the hours of a session always add up to it. With consistent readings
  the scale is exactly 1;
- a session without samples (or whose samples never rise) is spread evenly between its start and
  its stop, and marked ``estimated``.

``split`` cuts the curve at bucket boundaries (``bucket_starts``: the hours or local midnights of
a time zone, which on the days clocks change are 23 or 25 per day) and rounds each bucket to
whole Wh *on the cumulative curve*, so the rounded buckets add up to ``energy_wh`` exactly.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from itertools import pairwise
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"


@dataclass(frozen=True)
class SessionMeter:
    """What a session's energy curve is made of. ``end``: its stop, or now while it runs."""

    start: datetime
    end: datetime
    meter_start_wh: float
    meter_stop_wh: float | None
    energy_wh: int
    registers: Sequence[tuple[datetime, float]] = ()  # (time, Wh) samples, any order


@dataclass(frozen=True)
class Curve:
    """Energy delivered since the start (Wh) at instants, piecewise linear, non-decreasing."""

    points: list[tuple[datetime, float]]
    estimated: bool  # no samples to go by: spread evenly between start and stop

    @property
    def start(self) -> datetime:
        return self.points[0][0]

    @property
    def end(self) -> datetime:
        return self.points[-1][0]

    @cached_property
    def _times(self) -> list[datetime]:
        return [t for t, _ in self.points]

    def at(self, moment: datetime) -> float:
        """The energy delivered by ``moment`` (0 before the start, all after the end)."""
        index = bisect.bisect_right(self._times, moment)
        if index == 0:
            return 0.0
        if index == len(self.points):
            return self.points[-1][1]
        (t0, e0), (t1, e1) = self.points[index - 1], self.points[index]
        span = (t1 - t0).total_seconds()
        if span <= 0:
            return e1
        return e0 + (e1 - e0) * (moment - t0).total_seconds() / span


def cumulative(meter: SessionMeter) -> Curve:
    """The session's energy curve (see the module docstring)."""
    end = max(meter.end, meter.start)
    samples = sorted((t, wh) for t, wh in meter.registers if meter.start <= t <= end)
    readings: list[tuple[datetime, float]] = [(meter.start, meter.meter_start_wh), *samples]
    if meter.meter_stop_wh is not None:
        readings.append((end, meter.meter_stop_wh))
    points = [(meter.start, 0.0)]
    delivered = 0.0
    for (_, before), (moment, after) in pairwise(readings):
        delivered += max(0.0, after - before)
        points.append((moment, delivered))
    target = float(max(0, meter.energy_wh))
    if delivered < MIN_DELIVERED_WH:
        # Nothing to go by: a straight line from the start to the stop (or to now).
        last = max(end, meter.start)
        return Curve([(meter.start, 0.0), (last, target)], estimated=target > 0 or not samples)
    scale = target / delivered
    return Curve([(t, e * scale) for t, e in points], estimated=not samples)


# Readings that rise by less than this (Wh) in all are no evidence of when energy flowed: scaling
# the session's energy by them would overflow (a register of 2e-309 Wh scales 1 Wh to infinity).
MIN_DELIVERED_WH = 1e-6


def bucket_starts(
    start: datetime, end: datetime, zone: ZoneInfo, interval: Interval
) -> list[datetime]:
    """The starts (UTC) of the hours or local days of ``zone`` that overlap ``[start, end)``, the
    first at or before ``start`` (just that one when ``end`` is not after ``start``). A day is 23
    or 25 hours when the clocks change; an hour whose wall-clock time repeats (autumn) is two
    buckets, one that is skipped (spring) none."""
    step = HOUR if interval == Interval.HOUR else timedelta(hours=26)  # 26 h: past a 25 h day
    starts = [_floor(start, zone, interval)]
    while True:
        following = _floor(starts[-1] + step, zone, interval)
        if following <= starts[-1]:  # no real zone does this; never loop
            following = starts[-1] + HOUR
        if following >= end:
            return starts
        starts.append(following)


def _floor(moment: datetime, zone: ZoneInfo, interval: Interval) -> datetime:
    local = moment.astimezone(zone)
    if interval == Interval.HOUR:
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return datetime.combine(local.date(), time.min, tzinfo=zone).astimezone(UTC)


def split(curve: Curve, starts: Sequence[datetime]) -> dict[datetime, int]:
    """Whole Wh per bucket (keyed by its start) that the curve delivered in it, for the buckets
    it overlaps. ``starts``: sorted, the first at or before the curve's start; the last bucket
    runs on to the curve's end. Rounded on the cumulative curve: they add up to its energy."""
    result: dict[datetime, int] = {}
    index = max(0, bisect.bisect_right(starts, curve.start) - 1)
    reached = 0  # the rounded energy delivered by the start of the bucket
    while index < len(starts):
        upper = starts[index + 1] if index + 1 < len(starts) else None
        total = round(curve.points[-1][1])
        after = total if upper is None or upper >= curve.end else round(curve.at(upper))
        result[starts[index]] = after - reached
        reached = after
        if upper is None or upper >= curve.end:
            break
        index += 1
    return result


def add_buckets(into: dict[datetime, int], buckets: dict[datetime, int]) -> None:
    for start, wh in buckets.items():
        into[start] = into.get(start, 0) + wh


# ---------- curves for the chart ----------


def power_from_samples(
    samples: Iterable[tuple[datetime, str, float, str]],
) -> list[tuple[datetime, float]]:
    """Power (W) per timestamp from ``Power.Active.Import`` samples (time, phase, value, unit):
    the total when the charger sends one, else the sum of its phases."""
    totals: dict[datetime, float] = {}
    phases: dict[datetime, float] = {}
    for moment, phase, value, unit in samples:
        watts = value * 1000 if unit == "kW" else value
        if phase:
            phases[moment] = phases.get(moment, 0.0) + watts
        else:
            totals[moment] = watts
    merged = {**phases, **totals}
    return sorted(merged.items())


def power_from_curve(curve: Curve) -> list[tuple[datetime, float]]:
    """Average power (W) over each step of the energy curve, as a step line (when the charger
    sends no power samples)."""
    steps: list[tuple[datetime, float]] = []
    for (t0, e0), (t1, e1) in pairwise(curve.points):
        seconds = (t1 - t0).total_seconds()
        if seconds <= 0:
            continue
        watts = (e1 - e0) * 3600 / seconds
        steps.extend([(t0, watts), (t1, watts)])
    return steps


def thin(points: Sequence[tuple[datetime, float]], limit: int) -> list[tuple[datetime, float]]:
    """At most ``limit`` points, evenly picked, the first and last kept (for a chart or the API)."""
    if len(points) <= limit or limit < 2:
        return list(points)
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
