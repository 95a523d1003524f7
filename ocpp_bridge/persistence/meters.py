"""Meter values: one COPY per batch and one UPDATE of the sessions' live energy."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.db import IntegrityError, close_old_connections, connection

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession, MeterValue
from ocpp_bridge.persistence.records import (
    METER_FIELDS,
    MeterRow,
)

logger = logging.getLogger(__name__)


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
