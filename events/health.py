"""Connections, online and offline: the events of a charger's presence.

A charger that disconnects gets ``charger.disconnected`` at once; only when it stays away longer
than ``EVENTS_OFFLINE_GRACE_S`` does the sweep ``emit_offline_after_grace`` write
``charger.offline`` (a reboot or a short network glitch is no incident). When a charger reported
offline connects again, its connection batch writes ``charger.online``.

The two sides never both miss nor both write: the sweep locks the chargers it reports offline
(``SELECT ... FOR UPDATE``, still offline) in the transaction that writes the events, and the
bridge's batch sets ``is_online`` (waiting for that lock) before it looks for an offline episode
to close (``presence_drafts``), so it sees the sweep's events once committed.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chargers.models import Charger
from events.choices import EventType
from events.models import Event
from events.services import Draft, emit_many

# (charger id, online, when, reason): one connect or disconnect, as the bridge batches them.
PresenceChange = tuple[int, bool, datetime, str]


def presence_drafts(changes: Sequence[PresenceChange]) -> list[Draft]:
    """The events of a batch of connects and disconnects, in order; a connect of a charger
    whose last offline/online event is ``charger.offline`` also gets ``charger.online``. One
    query (only when the batch has connects). Call after the batch has set ``is_online``."""
    drafts = []
    connected = {charger_id for charger_id, online, _, _ in changes if online}
    offline_since = _offline_since(connected) if connected else {}
    for charger_id, online, at, reason in changes:
        if online:
            drafts.append(Draft(EventType.CHARGER_CONNECTED, charger_id, occurred_at=at))
            since = offline_since.pop(charger_id, None)
            if since is not None:
                seconds = max(0, round((at - since).total_seconds()))
                drafts.append(
                    Draft(
                        EventType.CHARGER_ONLINE,
                        charger_id,
                        occurred_at=at,
                        payload={"offline_seconds": seconds},
                    )
                )
        else:
            drafts.append(
                Draft(
                    EventType.CHARGER_DISCONNECTED,
                    charger_id,
                    occurred_at=at,
                    payload={"reason": reason[:200]},
                )
            )
    return drafts


def _offline_since(charger_ids: set[int]) -> dict[int, datetime]:
    """Chargers whose latest offline/online event says offline: when that episode began (the
    last time they were seen before it, from the event's payload)."""
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (charger_id) charger_id, type, payload->>'last_seen_at',"
            f" occurred_at FROM {table} WHERE charger_id = ANY(%s) AND type IN (%s, %s)"
            " ORDER BY charger_id, occurred_at DESC, id DESC",
            [sorted(charger_ids), EventType.CHARGER_OFFLINE, EventType.CHARGER_ONLINE],
        )
        rows = cursor.fetchall()
    found = {}
    for charger_id, kind, last_seen, occurred_at in rows:
        if kind == EventType.CHARGER_OFFLINE:
            found[charger_id] = datetime.fromisoformat(last_seen) if last_seen else occurred_at
    return found


def open_charger_faults(charger_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Chargers whose latest charger-level (connector 0) fault event is ``connector.faulted``:
    that fault's payload. The bridge keeps connector 0's report in the connection only (there
    is no Connector row for it), so a new connection reads it here: a recovery reported after
    a reconnect or a bridge restart is then seen as one, and the same fault is not new. One
    query over a small partial index (``outbox_charger_faults``)."""
    if not charger_ids:
        return {}
    table = connection.ops.quote_name(Event._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT ON (charger_id) charger_id, type, payload FROM {table}"
            " WHERE charger_id = ANY(%s) AND connector_id = 0 AND type IN (%s, %s)"
            " ORDER BY charger_id, occurred_at DESC, id DESC",
            [sorted(charger_ids), EventType.CONNECTOR_FAULTED, EventType.CONNECTOR_RECOVERED],
        )
        rows = cursor.fetchall()
    return {
        charger_id: json.loads(payload) if isinstance(payload, str) else payload
        for charger_id, kind, payload in rows
        if kind == EventType.CONNECTOR_FAULTED
    }


def emit_offline_after_grace(now: datetime | None = None) -> int:
    """``charger.offline`` for each charger disconnected longer than the grace period, once per
    episode (none yet at or after its last-seen time). Safe to run twice or on two workers: the
    chargers are locked while their events are written, and the second run finds the events."""
    now = now or timezone.now()
    grace_s = settings.EVENTS_OFFLINE_GRACE_S
    already = Event.objects.filter(
        charger_id=OuterRef("pk"),
        type=EventType.CHARGER_OFFLINE,
        occurred_at__gte=OuterRef("last_seen_at"),
    )
    with transaction.atomic():
        gone = list(
            Charger.objects.filter(
                is_online=False, last_seen_at__lt=now - timedelta(seconds=grace_s)
            )
            .filter(~Exists(already))
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("pk")
            .values_list("pk", "installation_id", "last_seen_at")
        )
        emit_many(
            Draft(
                EventType.CHARGER_OFFLINE,
                charger_id,
                installation_id=installation_id,
                occurred_at=now,
                payload={
                    "last_seen_at": last_seen_at.isoformat(),
                    "grace_seconds": grace_s,
                },
            )
            for charger_id, installation_id, last_seen_at in gone
        )
    return len(gone)
