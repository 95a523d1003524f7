"""Connections: who a charger is at the websocket upgrade, refused attempts, online states and
last-seen times (in batches)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from balancing.triggers import chargers_changed
from chargers.choices import EventKind, SessionStatus
from chargers.models import Charger, ChargerEvent, ChargeSession, Connector
from events.health import open_charger_faults, presence_drafts
from events.services import emit_many
from ocpp_bridge.choices import AttemptReason
from ocpp_bridge.models import ConnectionAttempt
from ocpp_bridge.persistence.records import (
    ActiveSession,
    ConnectedState,
    ReportedState,
)
from upstream.models import UpstreamSettings

logger = logging.getLogger(__name__)


def find_chargers(identities: Collection[str]) -> dict[str, tuple[Charger, ConnectedState]]:
    """The chargers with these OCPP identities (checked at the websocket upgrade), each with
    what its connection keeps in memory (connector statuses, connector 0's open fault from the
    outbox, sessions in progress); unknown identities are left out. One query each for any number
    of identities: in a reconnect storm the upgrades are looked up in batches."""
    close_old_connections()
    chargers = {
        c.pk: c
        for c in Charger.objects.filter(ocpp_identity__in=identities)
        .select_related("installation")
        .order_by()
    }
    connectors: dict[int, dict[int, ReportedState]] = {pk: {} for pk in chargers}
    reports = Connector.objects.filter(charger_id__in=chargers).values_list(
        "charger_id", "connector_id", "status", "error_code", "info", "vendor_error_code"
    )
    for charger_id, connector_id, *reported in reports:
        connectors[charger_id][connector_id] = ReportedState(*reported)
    for charger_id, fault in open_charger_faults(list(chargers)).items():  # no row for 0
        error_code = "" if fault.get("error_code") == "NoError" else fault.get("error_code", "")
        connectors[charger_id].setdefault(
            0,
            ReportedState(
                fault.get("status", "Faulted"),
                error_code,
                fault.get("info", ""),
                fault.get("vendor_error_code", ""),
            ),
        )
    sessions: dict[int, dict[int, ActiveSession]] = {pk: {} for pk in chargers}
    for charger_id, connector_id, tx, start in (
        ChargeSession.objects.filter(charger_id__in=chargers, status=SessionStatus.ACTIVE)
        .order_by("started_at")
        .values_list("charger_id", "connector__connector_id", "id", "meter_start_wh")
    ):
        sessions[charger_id][connector_id] = ActiveSession(tx, start)
    bridged = _upstream_settings(chargers.values())
    return {
        charger.ocpp_identity: (
            charger,
            ConnectedState(connectors[pk], sessions[pk], bridged.get(pk)),
        )
        for pk, charger in chargers.items()
    }


def _upstream_settings(chargers: Collection[Charger]) -> dict[int, UpstreamSettings]:
    """The effective upstream settings of the bridged chargers among ``chargers`` (one query:
    whether a charger is bridged is known from its upgrade on, so an unbridged charger's
    messages never ask)."""
    installations = {charger.installation_id for charger in chargers}
    defaults: dict[int, UpstreamSettings] = {}
    overrides: dict[int, UpstreamSettings | None] = {}
    for row in UpstreamSettings.objects.filter(installation_id__in=installations):
        if row.charger_id is None:
            if row.enabled:
                defaults[row.installation_id] = row
        else:
            overrides[row.charger_id] = row if row.enabled else None
    found = {}
    for charger in chargers:
        chosen = (
            overrides[charger.pk]
            if charger.pk in overrides
            else defaults.get(charger.installation_id)
        )
        if chosen is not None:
            found[charger.pk] = chosen
    return found


def record_refused_attempt(identity: str, reason: AttemptReason, remote_address: str) -> None:
    """Count a refused upgrade, folded per identity and reason (one statement, race-free)."""
    close_old_connections()
    table = connection.ops.quote_name(ConnectionAttempt._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (identity, reason, remote_address, first_seen_at,"
            " last_seen_at, attempts) VALUES (%s, %s, %s, %s, %s, 1)"
            " ON CONFLICT (identity, reason) DO UPDATE SET"
            f" attempts = {table}.attempts + 1, last_seen_at = EXCLUDED.last_seen_at,"
            " remote_address = EXCLUDED.remote_address",
            [identity[:100], str(reason), remote_address[:64], now, now],
        )


@dataclass(frozen=True)
class OnlineChange:
    """A charger connected (online) or disconnected, with the event that says so."""

    charger_id: int
    online: bool
    at: datetime
    summary: str


def record_online_changes(changes: Sequence[OnlineChange], seen: dict[int, datetime]) -> None:
    """Connects and disconnects of a while, in order, in two statements: their events, and each
    charger's latest online flag; also moves ``last_seen_at`` forward (``seen``).

    Rows of chargers deleted meanwhile are dropped with a log line: their events would fail on
    the foreign key, and a batch that fails is retried, so one deleted charger would otherwise
    stop every charger's online state from being saved. (A charger deleted between this check
    and the commit fails the batch once; the retry drops it.)"""
    close_old_connections()
    changes, seen = _of_existing_chargers(changes, seen)
    with transaction.atomic():  # all or nothing: a retried batch never repeats its events
        _write_online_changes(changes, seen)


def _of_existing_chargers(
    changes: Sequence[OnlineChange], seen: dict[int, datetime]
) -> tuple[Sequence[OnlineChange], dict[int, datetime]]:
    ids = {change.charger_id for change in changes} | seen.keys()
    existing = set(Charger.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if gone := ids - existing:
        logger.warning(
            "Online states of %d deleted chargers dropped (ids %s)",
            len(gone),
            ", ".join(map(str, sorted(gone))),
        )
        changes = [change for change in changes if change.charger_id in existing]
        seen = {charger_id: at for charger_id, at in seen.items() if charger_id in existing}
    return changes, seen


def _write_online_changes(changes: Sequence[OnlineChange], seen: dict[int, datetime]) -> None:
    if changes:
        ChargerEvent.objects.bulk_create(
            ChargerEvent(
                charger_id=change.charger_id,
                kind=EventKind.CONNECTED if change.online else EventKind.DISCONNECTED,
                timestamp=change.at,
                summary=change.summary,
            )
            for change in changes
        )
        chargers_changed({change.charger_id for change in changes}, "chargers online/offline")
    latest = {change.charger_id: change for change in changes}
    rows = {charger_id: (None, at) for charger_id, at in seen.items() if charger_id not in latest}
    rows.update({cid: (change.online, change.at) for cid, change in latest.items()})
    if not rows:
        return
    table = connection.ops.quote_name(Charger._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::boolean, %s::timestamptz)"] * len(rows))
    params: list[Any] = [item for cid, (online, at) in rows.items() for item in (cid, online, at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET is_online = COALESCE(v.online, c.is_online),"
            " last_seen_at = GREATEST(c.last_seen_at, v.seen)"
            f" FROM (VALUES {values}) AS v(id, online, seen) WHERE c.id = v.id",
            params,
        )
    if changes:
        # After the online flags (events.health: an offline sweep holding these chargers has
        # committed by now, so a connect finds the offline episode it ends).
        emit_many(presence_drafts([(c.charger_id, c.online, c.at, c.summary) for c in changes]))
