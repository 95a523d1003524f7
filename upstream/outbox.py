"""The upstream bridge's database side, for the bridge process and the pages (docs/upstream.md).

- ``queue_message``: a transaction message (Start/StopTransaction, transaction MeterValues) for
  upstream, written by the bridge's persistence in the transaction that records what the charger
  said, so the queue holds exactly what was stored.
- ``pending`` / ``delivered`` / ``attempt_failed``: the link takes the queue in order and marks
  each message answered; a StartTransaction's answer gives upstream's transaction id
  (``UpstreamTransaction``), which ``pending`` puts in the place of Fusebox's in the messages
  that follow.
- ``settings_changed``: an installation's (or one charger's) upstream settings changed; the
  bridge nodes holding its chargers reconnect their links with the new settings (Redis pub/sub,
  ``CHANNEL``). Pages and the API call it after saving.
- ``write_link_states``: the links' status rows (``UpstreamLink``), in one statement a batch.

No import of ``ocpp_bridge`` here: the web process imports this module too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from redis.exceptions import RedisError

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from commands.choices import CommandAction, CommandSource
from events.services import Draft, emit_many
from portal.redis import get_redis
from upstream.choices import QueuedAction, UpstreamAuthorization
from upstream.models import (
    UpstreamLink,
    UpstreamMessage,
    UpstreamSettings,
    UpstreamTransaction,
    effective_settings,
)

logger = logging.getLogger(__name__)

CHANNEL = "fusebox:upstream:settings"
# OCPP 1.6 (4.8, "Error responses to transaction-related messages"; the TransactionMessage
# Attempts and TransactionMessageRetryInterval keys of a charge point): a transaction message
# upstream answers with a CallError (or an answer against the schema), or leaves unanswered,
# is tried again after RETRY_INTERVAL_S times the attempts so far, and given up ("failed") after
# MAX_ATTEMPTS attempts; the queue behind it goes on. Time without a connection never counts.
MAX_ATTEMPTS = 3
RETRY_INTERVAL_S = 10.0


# --- settings -------------------------------------------------------------------------------


def settings_changed(installation_id: int) -> None:
    """Tell the bridge nodes that ``installation_id``'s upstream settings changed (after the
    transaction commits). Best effort: a node that misses it re-reads settings at the charger's
    next connection."""

    def publish() -> None:
        try:
            get_redis().publish(CHANNEL, json.dumps({"installation_id": installation_id}))
        except RedisError:
            logger.warning("Could not signal upstream settings of installation %s", installation_id)

    transaction.on_commit(publish)


def settings_of_installations(installation_ids: Sequence[int]) -> dict[int, UpstreamSettings]:
    """The effective settings of every charger of these installations that is bridged, by
    charger id (two queries)."""
    close_old_connections()
    rows = list(UpstreamSettings.objects.filter(installation_id__in=installation_ids))
    defaults = {row.installation_id: row for row in rows if row.charger_id is None}
    overrides = {row.charger_id: row for row in rows if row.charger_id is not None}
    found: dict[int, UpstreamSettings] = {}
    for charger_id, installation_id in Charger.objects.filter(
        installation_id__in=installation_ids
    ).values_list("pk", "installation_id"):
        chosen = overrides.get(charger_id) or defaults.get(installation_id)
        if chosen is not None and chosen.enabled:
            found[charger_id] = chosen
    return found


def is_bridged(charger_id: int) -> bool:
    """Whether the charger is presented upstream now (its effective settings are enabled)."""
    charger = Charger.objects.filter(pk=charger_id).only("pk", "installation_id").first()
    return charger is not None and effective_settings(charger) is not None


# --- the durable queue ----------------------------------------------------------------------


def storable(value: Any) -> Any:
    """``value`` with each character PostgreSQL's jsonb cannot hold (NUL, a lone surrogate:
    valid JSON escapes a charger may send) replaced by U+FFFD, so a strange idTag never fails
    the transaction that stores the session."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return "".join(
            "\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in value
        )
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def queue_message(
    charger_id: int, session_id: int | None, action: QueuedAction, payload: dict[str, Any]
) -> None:
    """Queue a transaction message for upstream (inside the caller's transaction)."""
    UpstreamMessage.objects.create(
        charger_id=charger_id, session_id=session_id, action=action, payload=storable(payload)
    )


def queue_meter_values(charger_id: int, session_id: int, payload: dict[str, Any]) -> Pending | None:
    """A transaction's MeterValues, queued behind the charger's earlier messages (one
    statement). It returns the message as ``pending`` would, with upstream's transaction id
    when upstream has one already, so the link can send it without reading it back; None (and
    nothing queued) when the transaction id is no session of this charger."""
    close_old_connections()
    table = connection.ops.quote_name(UpstreamMessage._meta.db_table)
    sessions = connection.ops.quote_name(ChargeSession._meta.db_table)
    mapping = connection.ops.quote_name(UpstreamTransaction._meta.db_table)
    stored = storable(payload)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH queued AS (INSERT INTO {table}"
            " (charger_id, session_id, action, payload, created_at, attempts)"
            f" SELECT %s, id, %s, %s::jsonb, now(), 0 FROM {sessions}"
            " WHERE id = %s AND charger_id = %s RETURNING id, session_id)"
            f" SELECT queued.id, mapping.upstream_transaction_id FROM queued"
            f" LEFT JOIN {mapping} mapping ON mapping.session_id = queued.session_id",
            [
                charger_id,
                str(QueuedAction.METER_VALUES),
                json.dumps(stored),
                session_id,
                charger_id,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    message_id, upstream_id = row
    if upstream_id is None:  # its StartTransaction is not answered yet
        return Pending(message_id, str(QueuedAction.METER_VALUES), stored, session_id, False)
    mapped = {**stored, "transactionId": upstream_id}
    return Pending(message_id, str(QueuedAction.METER_VALUES), mapped, session_id, True)


def replace_inferred_stop(session_id: int, payload: dict[str, Any]) -> bool:
    """A late StopTransaction for a session Fusebox closed by inference: if the inferred
    StopTransaction still waits in the queue, it carries the charger's values now. True if one
    was waiting (whether or not, no second StopTransaction is queued)."""
    return bool(
        UpstreamMessage.objects.filter(
            session_id=session_id, action=QueuedAction.STOP_TRANSACTION, sent_at__isnull=True
        ).update(payload=storable(payload))
    )


@dataclass(frozen=True)
class Pending:
    """A queued message ready to send: ``payload`` carries upstream's transaction id already
    (``mapped``: False when upstream gave none, e.g. the session began before the charger was
    bridged, or upstream refused its StartTransaction)."""

    id: int
    action: str
    payload: dict[str, Any]
    session_id: int | None
    mapped: bool


def pending(charger_id: int, limit: int = 50) -> list[Pending]:
    """The oldest unsent messages of the charger, in order, with upstream's transaction ids
    (one query: the messages and their sessions' upstream ids) and, in StartTransactions,
    upstream's reservation ids (one or two more queries when the batch holds a start)."""
    close_old_connections()
    rows = list(
        UpstreamMessage.objects.filter(charger_id=charger_id, sent_at__isnull=True)
        .order_by("id")
        .values_list(
            "id",
            "action",
            "payload",
            "session_id",
            "session__upstream_transaction__upstream_transaction_id",
        )[:limit]
    )
    reserved = _upstream_reservations(rows)
    found = []
    for pk, action, payload, session_id, upstream_id in rows:
        mapped = True
        if action == QueuedAction.START_TRANSACTION and (
            "reservationId" in payload or session_id in reserved
        ):
            payload = {k: v for k, v in payload.items() if k != "reservationId"}
            if session_id in reserved:
                payload["reservationId"] = reserved[session_id]
        if action != QueuedAction.START_TRANSACTION:
            # A StartTransaction sent earlier in this very batch maps after it is answered:
            # the link asks again (``mapped`` False and a Start before it in the batch).
            mapped = upstream_id is not None
            if mapped:
                payload = {**payload, "transactionId": upstream_id}
        found.append(Pending(pk, action, payload, session_id, mapped))
    return found


def _upstream_reservations(rows: Sequence[tuple[Any, ...]]) -> dict[int, int]:
    """For the StartTransactions among ``rows`` that name a reservation: upstream's
    reservationId by session, where upstream made the reservation (the one the charger named,
    or the one the start used). Fusebox's own reservations are unknown upstream: their id is
    left out of what upstream gets."""
    starts = {
        session_id: payload.get("reservationId")
        for _, action, payload, session_id, _ in rows
        if action == QueuedAction.START_TRANSACTION and session_id is not None
    }
    if not starts:
        return {}
    named = {s: ours for s, ours in starts.items() if isinstance(ours, int)}
    from auth_access.models import Reservation

    found: dict[int, int] = {}
    made_upstream = Reservation.objects.exclude(upstream_host="").filter(
        upstream_reservation_id__isnull=False
    )
    by_id = dict(
        made_upstream.filter(pk__in=set(named.values())).values_list(
            "pk", "upstream_reservation_id"
        )
    )
    for session_id, ours in named.items():
        if ours in by_id:
            found[session_id] = by_id[ours]
    for session_id, theirs in made_upstream.filter(session_id__in=list(starts)).values_list(
        "session_id", "upstream_reservation_id"
    ):
        found[session_id] = theirs
    return found


def upstream_transaction_id(session_id: int) -> int | None:
    close_old_connections()
    return (
        UpstreamTransaction.objects.filter(session_id=session_id)
        .values_list("upstream_transaction_id", flat=True)
        .first()
    )


def delivered(
    charger_id: int,
    message_id: int,
    answer: dict[str, Any],
    sent_at: datetime,
    start_of: int | None = None,
    *,
    failed: bool = False,
) -> None:
    """Upstream answered the message (``answer``: its payload), or it was given up (``failed``,
    ``answer``: ``{"error": ...}``). ``start_of``: the session whose StartTransaction this was:
    upstream's ``transactionId`` is kept for it (in the same transaction)."""
    close_old_connections()
    message = UpstreamMessage.objects.filter(pk=message_id)
    upstream_id = answer.get("transactionId")
    if failed or start_of is None or not isinstance(upstream_id, int):
        message.update(sent_at=sent_at, answer=storable(answer), failed=failed)
        return
    with transaction.atomic():
        message.update(sent_at=sent_at, answer=storable(answer))
        if ChargeSession.objects.filter(pk=start_of).exists():
            UpstreamTransaction.objects.update_or_create(
                session_id=start_of,
                defaults={
                    "charger_id": charger_id,
                    "upstream_transaction_id": upstream_id,
                    "id_tag_status": str((answer.get("idTagInfo") or {}).get("status", ""))[:12],
                },
            )
            tag_status = (answer.get("idTagInfo") or {}).get("status")
            if tag_status in REFUSED_TAG_STATUSES:
                stop_refused_transaction(start_of)


# An idTagInfo status in upstream's StartTransaction answer that ends the transaction where
# upstream decides (OCPP 1.6 5.18 / StopTransactionOnInvalidId).
REFUSED_TAG_STATUSES = frozenset({"Blocked", "Expired", "Invalid"})


def stop_refused_transaction(session_id: int) -> bool:
    """Upstream refused the idTag of a transaction it was told of: where upstream decides (or
    both must), the charger is asked to stop it (RemoteStopTransaction through the command
    path, after this transaction commits); where Fusebox decides, upstream's answer only
    informs. True if a stop was asked for."""
    session = (
        ChargeSession.objects.filter(pk=session_id, status=SessionStatus.ACTIVE)
        .select_related("charger")
        .first()
    )
    if session is None:
        return False
    chosen = effective_settings(session.charger)
    if chosen is None or chosen.authorization == UpstreamAuthorization.FUSEBOX:
        return False
    routing.issue_command(
        session.charger,
        CommandAction.REMOTE_STOP_TRANSACTION,
        {"transactionId": session.pk},
        source=CommandSource.SYSTEM,
    )
    logger.info("Session %s: upstream refused its idTag; stop asked of the charger", session.pk)
    return True


def attempt_failed(message_id: int) -> int:
    """Count a failed attempt (upstream's CallError, or no answer in time); the attempts so far
    (one statement)."""
    close_old_connections()
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(UpstreamMessage._meta.db_table)
        cursor.execute(
            f"UPDATE {table} SET attempts = attempts + 1 WHERE id = %s RETURNING attempts",
            [message_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Failures:
    """A charger's messages given up (``UpstreamMessage.failed``): how many, and the last."""

    count: int
    last_action: str = ""
    last_error: str = ""
    last_at: datetime | None = None


def failures(charger_ids: Sequence[int]) -> dict[int, Failures]:
    """The failed messages of these chargers (two queries whatever their number)."""
    counts = dict(
        UpstreamMessage.objects.filter(charger_id__in=charger_ids, failed=True)
        .values_list("charger_id")
        .annotate(n=Count("id"))
        .values_list("charger_id", "n")
    )
    if not counts:
        return {}
    last = (
        UpstreamMessage.objects.filter(charger_id__in=list(counts), failed=True)
        .order_by("charger_id", "-id")
        .distinct("charger_id")
        .values_list("charger_id", "action", "answer", "sent_at")
    )
    found = {cid: Failures(n) for cid, n in counts.items()}
    for cid, action, answer, at in last:
        error = answer.get("error", "") if isinstance(answer, dict) else ""
        found[cid] = Failures(counts[cid], action, str(error)[:200], at)
    return found


def queued_count(charger_ids: Sequence[int]) -> dict[int, int]:
    """Unsent messages per charger."""
    return dict(
        UpstreamMessage.objects.filter(charger_id__in=charger_ids, sent_at__isnull=True)
        .values_list("charger_id")
        .annotate(n=Count("id"))
        .values_list("charger_id", "n")
    )


# --- link status ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkState:
    """A link's status as its bridge node sees it (``UpstreamLink``'s fields)."""

    charger_id: int
    fields: dict[str, Any]


def write_link_states(states: Sequence[LinkState]) -> None:
    """Create or update the chargers' ``UpstreamLink`` rows (the latest state of each)."""
    close_old_connections()
    latest: dict[int, dict[str, Any]] = {}
    for state in states:
        latest.setdefault(state.charger_id, {}).update(state.fields)
    existing = set(Charger.objects.filter(pk__in=latest).values_list("pk", flat=True))
    groups: dict[tuple[str, ...], list[UpstreamLink]] = {}
    now = timezone.now()
    for charger_id, fields in latest.items():
        if charger_id in existing:
            row = UpstreamLink(charger_id=charger_id, **{"since": now, **fields})
            groups.setdefault(tuple(sorted(fields)), []).append(row)
    with transaction.atomic():  # one upsert per shape of change
        for names, rows in groups.items():
            UpstreamLink.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["charger"], update_fields=list(names)
            )


def record_link_events(events: Sequence[tuple[int, str, dict[str, Any], datetime]]) -> None:
    """The links' ``upstream.*`` events (docs/events.md): (charger id, type, payload, when)."""
    close_old_connections()
    drafts = [
        Draft(event_type, charger_id, occurred_at=at, payload=payload)
        for charger_id, event_type, payload, at in events
    ]
    with transaction.atomic():
        emit_many(drafts)


def forget_links(charger_ids: Sequence[int]) -> None:
    """Links no longer bridged: their status rows go."""
    close_old_connections()
    UpstreamLink.objects.filter(Q(charger_id__in=charger_ids)).delete()
