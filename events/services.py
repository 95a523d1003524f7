"""Writing events: ``emit`` (one) and ``emit_many`` (a batch, one INSERT), in the caller's
transaction; consumers are woken after the commit.

The bridge passes charger ids only: the installation of each charger is looked up once per
process and cached (a charger never moves to another installation, as ``balancing.triggers``
also relies on). Raw-SQL writers that batch several statements in one round trip
(``auth_access.checks.record_many``) take ``insert_statement`` instead and call
``wake_on_commit`` themselves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from chargers.models import Charger
from events.catalogue import check_payload, spec_of
from events.choices import EventType
from events.models import Event
from portal import live

logger = logging.getLogger(__name__)

WAKE_KEY = "fusebox:events:wake"
TRAILING_KEY = "fusebox:events:wake-trailing"
WAKE_WINDOW_S = 0.5  # at most two consumer runs per window are asked for, across processes

_installation_of: dict[int, int] = {}
_covered_until = 0.0  # a trailing run this process asked for starts after this (monotonic)


@dataclass(frozen=True)
class Draft:
    """An event to write. ``installation_id`` may be left out when ``charger_id`` is given."""

    type: EventType | str
    charger_id: int | None = None
    installation_id: int | None = None
    connector_id: int = 0
    occurred_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    session_id: int | None = None


def emit(
    event_type: EventType | str,
    *,
    installation_id: int | None = None,
    charger_id: int | None = None,
    connector_id: int = 0,
    occurred_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    session_id: int | None = None,
) -> Event | None:
    """Write one event in the caller's transaction (rolled back with it). None when its
    charger no longer exists."""
    draft = Draft(
        event_type,
        charger_id=charger_id,
        installation_id=installation_id,
        connector_id=connector_id,
        occurred_at=occurred_at,
        payload=payload or {},
        session_id=session_id,
    )
    written = emit_many([draft])
    return written[0] if written else None


def emit_many(drafts: Iterable[Draft]) -> list[Event]:
    """Write the events in one INSERT in the caller's transaction; drafts of chargers that no
    longer exist are dropped (with a log line). Raises ``UnknownEventType`` on a type or payload
    field outside the catalogue. The events come back with their id, ``recorded_at`` and
    ``xid`` (in the order of the drafts, as ``bulk_create`` also relies on)."""
    rows = _rows(list(drafts))
    if not rows:
        return []
    sql, params = _insert(rows)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING id, recorded_at, xid", params)
        for row, (pk, recorded_at, xid) in zip(rows, cursor.fetchall(), strict=True):
            row.pk, row.recorded_at, row.xid = pk, recorded_at, xid
            row._state.adding = False
    wake_on_commit()
    _publish_on_commit(rows)
    return rows


def insert_statement(drafts: Sequence[Draft]) -> tuple[str, list[Any]] | None:
    """The INSERT of ``emit_many`` as SQL and parameters, for a caller that sends several
    statements in one round trip; it must call ``wake_on_commit()``. None: nothing to write."""
    rows = _rows(list(drafts))
    return _insert(rows) if rows else None


# One array per column: nine parameters whatever the batch's size (a VALUES row per event
# would make Django and psycopg prepare and bind nine values per event).
_COLUMNS = {
    "type": "text", "installation_id": "bigint", "charger_id": "bigint", "connector_id": "int",
    "session_id": "bigint", "occurred_at": "timestamptz", "severity": "text",
    "payload": "jsonb", "version": "int",
}  # fmt: skip


def _insert(rows: list[Event]) -> tuple[str, list[Any]]:
    table = connection.ops.quote_name(Event._meta.db_table)
    arrays = ", ".join(f"%s::{kind}[]" for kind in _COLUMNS.values())
    columns: list[list[Any]] = [[] for _ in _COLUMNS]
    for row in rows:
        values = (
            row.type, row.installation_id, row.charger_id, row.connector_id, row.session_id,
            row.occurred_at, row.severity, json.dumps(row.payload, cls=DjangoJSONEncoder),
            row.version,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    sql = f"INSERT INTO {table} ({', '.join(_COLUMNS)}) SELECT * FROM unnest({arrays})"
    return sql, columns


def _rows(drafts: list[Draft]) -> list[Event]:
    if not drafts:
        return []
    missing = {
        d.charger_id
        for d in drafts
        if d.installation_id is None and d.charger_id is not None
        if d.charger_id not in _installation_of
    }
    if missing:
        _installation_of.update(
            Charger.objects.filter(pk__in=missing).values_list("pk", "installation_id")
        )
    now = timezone.now()
    rows = []
    for draft in drafts:
        spec = spec_of(draft.type)
        check_payload(spec, draft.payload)
        installation_id = draft.installation_id
        if installation_id is None and draft.charger_id is not None:
            installation_id = _installation_of.get(draft.charger_id)
        if installation_id is None:
            logger.warning("Event %s of a charger that is gone (%s) dropped", spec.type, draft)
            continue
        rows.append(
            Event(
                type=spec.type,
                installation_id=installation_id,
                charger_id=draft.charger_id,
                connector_id=draft.connector_id,
                session_id=draft.session_id,
                occurred_at=draft.occurred_at or now,
                severity=spec.severity,
                payload=draft.payload,
                version=spec.version,
            )
        )
    return rows


def _publish_on_commit(rows: list[Event]) -> None:
    """After the commit, tell the open pages of these events' installations (``portal.live``):
    a session started or a fault reaches them in a moment, not at their next poll. Not the
    consumers' path: the pages need no cursor, and a busy worker must not delay them."""
    by_installation: dict[int, list[tuple[int | None, str]]] = {}
    for row in rows:
        by_installation.setdefault(row.installation_id, []).append((row.charger_id, str(row.type)))
    if connection.in_atomic_block or connection.get_autocommit():
        transaction.on_commit(partial(live.publish_events, by_installation))


def wake_on_commit() -> None:
    """After the commit (at once outside a transaction), ask a worker to run the consumers
    soon (``_wake``); a failure is only logged (the beat runs them anyway). Under manual
    transaction management (autocommit off, no atomic block) there is no commit hook: the
    beat's next run reads them."""
    if connection.in_atomic_block or connection.get_autocommit():
        transaction.on_commit(_wake)


def _wake() -> None:
    """Debounced across processes with a leading and a trailing run per ``WAKE_WINDOW_S``: the
    first commit of a window runs the consumers at once; later ones in the window share one run
    at its end, which starts after them and so reads them (none waits for the beat). A process
    that knows a trailing run is coming skips Redis until it starts."""
    global _covered_until
    now = time.monotonic()
    if now < _covered_until:
        return
    try:
        from events.tasks import run_consumers
        from portal.redis import get_redis

        redis = get_redis()
        window_ms = round(WAKE_WINDOW_S * 1000)
        if redis.set(WAKE_KEY, "1", nx=True, px=window_ms):
            run_consumers.apply_async()
        elif redis.set(TRAILING_KEY, "1", nx=True, px=window_ms):
            run_consumers.apply_async(countdown=WAKE_WINDOW_S)
            _covered_until = now + WAKE_WINDOW_S
        else:  # another process scheduled the trailing run: it starts when its key expires
            _covered_until = now + max(0, redis.pttl(TRAILING_KEY)) / 1000
    except Exception:
        logger.warning("Waking the event consumers failed", exc_info=True)
