"""Meter values: one COPY per batch and one UPDATE of the sessions' live energy."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.db import IntegrityError, close_old_connections, connection
from django.db.models import Q

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession, MeterValue
from chargers.models.session import SignedMeterValue
from ocpp_bridge.persistence.records import (
    METER_FIELDS,
    MeterRow,
    SignedRow,
)

logger = logging.getLogger(__name__)

# A charger signs the begin value when the car is authorised or plugged in, so it may carry a
# time a little before the StartTransaction's, and it may even be sent before it.
BEGIN = "Transaction.Begin"
BEGIN_GRACE = timedelta(minutes=5)


def write_meter_values(rows: Sequence[MeterRow], registers: dict[tuple[int, int], float]) -> None:
    """Append a batch of meter rows with one COPY, then move the live energy of the sessions
    they belong to with one UPDATE (apart, so session rows are never locked for the COPY's
    duration). ``registers``: (charger id, transaction id) -> meter reading in Wh."""
    close_old_connections()
    try:
        _copy_rows(rows)
    except IntegrityError:
        # A charger deleted while its values waited in the buffer: keep the others.
        known = set(
            Charger.objects.filter(pk__in={row[0] for row in rows}).values_list("pk", flat=True)
        )
        logger.warning("Dropping meter values of deleted chargers %s", {r[0] for r in rows} - known)
        _copy_rows([row for row in rows if row[0] in known])
    _update_session_energy(registers)


def _copy_rows(rows: Iterable[MeterRow]) -> None:
    quote = connection.ops.quote_name
    table = quote(MeterValue._meta.db_table)
    columns = ", ".join(quote(MeterValue._meta.get_field(name).column) for name in METER_FIELDS)
    # The psycopg 3 cursor under Django's wrapper: COPY is the cheapest way in.
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _update_session_energy(registers: dict[tuple[int, int], float]) -> None:
    if not registers:
        return
    table = connection.ops.quote_name(ChargeSession._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::bigint, %s::double precision)"] * len(registers))
    params = [item for (charger_id, tx), wh in registers.items() for item in (tx, charger_id, wh)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET energy_wh = GREATEST(0, round(v.wh)::bigint - s.meter_start_wh)"
            f" FROM (VALUES {values}) AS v(id, charger_id, wh)"
            " WHERE s.id = v.id AND s.charger_id = v.charger_id AND s.status = %s",
            [*params, SessionStatus.ACTIVE.value],
        )


def write_signed_values(rows: list[SignedRow]) -> None:
    """Store signed values, each attached to its session: the one with its transactionId on its
    charger, or (none sent) the one on its connector at its time. A value already stored (same
    charger and text) is skipped; values of chargers deleted meanwhile are dropped. On the
    bridge's batch lane, after the meter batch that may hold the start of their session."""
    close_old_connections()
    known = set(
        Charger.objects.filter(pk__in={r.charger_id for r in rows}).values_list("pk", flat=True)
    )
    rows = [r for r in rows if r.charger_id in known]
    tagged = {
        (charger_id, pk)
        for pk, charger_id in ChargeSession.objects.filter(
            pk__in={r.transaction_id for r in rows if r.transaction_id is not None}
        ).values_list("pk", "charger_id")
    }
    values = []
    for row in rows:
        session_id = row.transaction_id if (row.charger_id, row.transaction_id) in tagged else None
        if session_id is None and row.transaction_id is None:
            session_id = (
                ChargeSession.objects.filter(
                    Q(stopped_at__gte=row.timestamp) | Q(stopped_at__isnull=True),
                    charger_id=row.charger_id,
                    connector__connector_id=row.connector_id,
                    started_at__lte=row.timestamp
                    + (BEGIN_GRACE if row.context == BEGIN else timedelta(0)),
                )
                .order_by("-started_at")
                .values_list("pk", flat=True)
                .first()
            )
        values.append(
            SignedMeterValue(
                charger_id=row.charger_id,
                session_id=session_id,
                connector_id=row.connector_id,
                transaction_id=row.transaction_id,
                timestamp=row.timestamp,
                context=row.context,
                measurand=row.measurand,
                signed_data=row.signed_data,
                digest=hashlib.sha256(row.signed_data.encode()).hexdigest(),
            )
        )
    SignedMeterValue.objects.bulk_create(values, ignore_conflicts=True)


def adopt_signed_values(session: ChargeSession) -> int:
    """Attach to a session just started the signed values of its connector that came before its
    StartTransaction (so without a transactionId): its begin value, signed up to
    ``BEGIN_GRACE`` before the start, and any value timed after the start. Without this they
    stayed unattached and the driver never saw the begin value. Returns how many."""
    return (
        SignedMeterValue.objects.filter(
            charger_id=session.charger_id,
            connector_id=session.connector.connector_id,
            session__isnull=True,
            transaction_id__isnull=True,
            timestamp__gte=session.started_at - BEGIN_GRACE,
        )
        .filter(Q(context=BEGIN) | Q(timestamp__gte=session.started_at))
        .update(session=session)
    )
