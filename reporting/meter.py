"""The meter values of sessions, read for their energy curves (``reporting.energy``).

Sessions come from the tenancy gate; their meter values are then read by the session's own
charger and transaction id, so a charger can never lend its values to another charger's session.
A sample belongs to a session when it carries the session's transactionId, or when it carries
none and was taken on the session's connector between its start and stop (chargers may leave
the optional transactionId out). Reads use the ``meter_transaction`` index (partial, on
transaction_id) and ``meter_charger_time`` (charger, timestamp).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from django.db.models import FloatField, Func, Q
from django.utils import timezone

from chargers.models import ChargeSession, MeterValue
from reporting.energy import SessionMeter

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
# Where the energy delivered to the car is measured (OCPP 1.6: the default location is Outlet).
LOCATIONS = ("", "Outlet")


class EpochSeconds(Func):
    """A time as seconds since 1970 (a float): read many times back several times faster than
    as timestamps, which are parsed from text one by one."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
    output_field = FloatField()


def session_end(session: ChargeSession, now: datetime | None = None) -> datetime:
    """Its stop, or now while it runs."""
    return session.stopped_at or max(now or timezone.now(), session.started_at)


def _belongs(sessions: Sequence[ChargeSession], now: datetime) -> Q:
    """Meter values that may be these sessions': their transaction ids, or none on their chargers
    while one of them ran (per charger, from the first start to the last end; ``_session_of``
    then picks the session by connector and time)."""
    spans: dict[int, tuple[datetime, datetime]] = {}
    for session in sessions:
        first, last = spans.get(session.charger_id, (session.started_at, session_end(session, now)))
        spans[session.charger_id] = (
            min(first, session.started_at),
            max(last, session_end(session, now)),
        )
    untagged = Q()
    for charger_id, (first, last) in spans.items():
        untagged |= Q(charger_id=charger_id, timestamp__gte=first, timestamp__lte=last)
    return Q(transaction_id__in=[s.pk for s in sessions]) | (
        Q(transaction_id__isnull=True) & untagged
    )


def _owner(
    sessions: Sequence[ChargeSession], now: datetime
) -> dict[tuple[int, int | None, int], list[ChargeSession]]:
    index: dict[tuple[int, int | None, int], list[ChargeSession]] = defaultdict(list)
    for session in sessions:
        index[(session.charger_id, session.pk, 0)].append(session)
        index[(session.charger_id, None, session.connector.connector_id)].append(session)
    return index


def _session_of(
    index: dict[tuple[int, int | None, int], list[ChargeSession]],
    charger_id: int,
    transaction_id: int | None,
    connector_id: int,
    at: datetime,
    now: datetime,
) -> ChargeSession | None:
    if transaction_id is not None:
        found = index.get((charger_id, transaction_id, 0))
        return found[0] if found else None
    for session in index.get((charger_id, None, connector_id), ()):
        if session.started_at <= at <= session_end(session, now):
            return session
    return None


def meters(
    sessions: Sequence[ChargeSession], now: datetime | None = None
) -> dict[int, SessionMeter]:
    """Each session's meter readings (``SessionMeter``), with its register samples: one query.
    The sessions need ``connector`` loaded (select_related)."""
    now = now or timezone.now()
    registers: dict[int, list[tuple[datetime, float]]] = {s.pk: [] for s in sessions}
    if sessions:
        index = _owner(sessions, now)
        rows = (
            MeterValue.objects.filter(
                _belongs(sessions, now),
                measurand=ENERGY_REGISTER,
                phase="",
                location__in=LOCATIONS,
            )
            .order_by()
            .annotate(epoch=EpochSeconds("timestamp"))
            .values_list("charger_id", "transaction_id", "connector_id", "epoch", "value", "unit")
        )
        for charger_id, tx, connector_id, epoch, value, unit in rows.iterator(chunk_size=5000):
            at = datetime.fromtimestamp(epoch, UTC)
            session = _session_of(index, charger_id, tx, connector_id, at, now)
            if session is not None:
                registers[session.pk].append((at, value * 1000 if unit == "kWh" else value))
    return {
        s.pk: SessionMeter(
            start=s.started_at,
            end=session_end(s, now),
            meter_start_wh=s.meter_start_wh,
            meter_stop_wh=s.meter_stop_wh,
            energy_wh=s.energy_wh,
            registers=registers[s.pk],
        )
        for s in sessions
    }


def power_samples(
    session: ChargeSession, now: datetime | None = None
) -> list[tuple[datetime, str, float, str]]:
    """The session's ``Power.Active.Import`` samples: (time, phase, value, unit), in time order."""
    now = now or timezone.now()
    rows = (
        MeterValue.objects.filter(
            _belongs([session], now),
            charger_id=session.charger_id,
            measurand=POWER,
            location__in=LOCATIONS,
        )
        .order_by("timestamp")
        .values_list("timestamp", "phase", "value", "unit")
    )
    return list(rows)
