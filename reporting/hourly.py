"""Energy over time of a set of sessions: energy per hour or per local day, the sum of each
session's share of it (``reporting.energy``: interpolated between its energy readings, spread
evenly when it has none).

Unlike history and usage, which count a session where it *started*, energy over time counts
each Wh where it was delivered: a session from 22:00 to 06:00 adds to both days. A row is
``estimated`` when part of it comes from a session without readings (``estimated_wh``).
Sessions that started more than ``LONGEST_SESSION`` before the range are not read (the
history's index serves the rest); a running session counts up to now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from chargers.choices import SessionStatus
from chargers.models import ChargeSession
from portal.tenancy import assert_restricted
from reporting.energy import Interval, bucket_starts, cumulative, split
from reporting.meter import meters, session_end

LONGEST_SESSION = timedelta(days=31)


@dataclass
class EnergyRow:
    """Energy delivered in one hour or local day ``[start, end)`` (instants)."""

    start: datetime
    end: datetime
    energy_wh: int = 0
    estimated_wh: int = 0  # of which from sessions without energy readings
    sessions: int = 0  # sessions that delivered energy in it

    @property
    def estimated(self) -> bool:
        return self.estimated_wh > 0


def overlapping(
    sessions: QuerySet[ChargeSession], start: datetime, end: datetime
) -> QuerySet[ChargeSession]:
    """The sessions that ran during ``[start, end)`` (or still run)."""
    assert_restricted(sessions)
    return sessions.filter(
        Q(started_at__gte=start - LONGEST_SESSION) | Q(status=SessionStatus.ACTIVE),
        Q(stopped_at__gte=start) | Q(stopped_at__isnull=True),
        started_at__lt=end,
    )


def energy_rows(
    sessions: QuerySet[ChargeSession],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    interval: Interval,
    now: datetime | None = None,
) -> list[EnergyRow]:
    """One row per hour or local day of ``zone`` from the one holding ``start`` to ``end``
    (exclusive), empty ones included, for the sessions given (restricted, narrowed)."""
    now = now or timezone.now()
    ran = list(
        overlapping(sessions, start, end)
        .select_related("connector")
        .only(
            "id",
            "charger_id",
            "connector__connector_id",
            "started_at",
            "stopped_at",
            "meter_start_wh",
            "meter_stop_wh",
            "energy_wh",
            "status",
        )
        .order_by()
    )
    first = min([start, *(s.started_at for s in ran)])
    last = max([end, *(session_end(s, now) for s in ran)])
    # One boundary past everything, so every bucket has an end.
    starts = bucket_starts(first, last + timedelta(hours=26), zone, interval)
    rows = {
        bucket: EnergyRow(bucket, following)
        for bucket, following in pairwise(starts)
        if bucket < end and following > start
    }
    for meter in meters(ran, now).values():
        curve = cumulative(meter)
        for bucket, wh in split(curve, starts).items():
            row = rows.get(bucket)
            if row is None or wh <= 0:
                continue
            row.energy_wh += wh
            row.sessions += 1
            if curve.estimated:
                row.estimated_wh += wh
    return list(rows.values())
