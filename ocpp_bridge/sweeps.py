"""Periodic consistency sweeps: a bridge node that died cannot mark its chargers offline itself."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chargers.choices import EventKind, SessionStatus, StopReason
from chargers.models import Charger, ChargerEvent
from commands.routing import PRESENCE_KEY
from events.health import presence_drafts
from events.services import emit_many
from ocpp_bridge import persistence
from portal.redis import get_redis


def mark_vanished_chargers_offline() -> int:
    """Set is_online=False (with an event) for online chargers whose presence key has expired."""
    online = list(Charger.objects.filter(is_online=True).values_list("id", "ocpp_identity"))
    if not online:
        return 0
    pipe = get_redis().pipeline(transaction=False)
    for _, identity in online:
        pipe.exists(PRESENCE_KEY.format(identity=identity))
    vanished = [
        charger_id
        for (charger_id, _), present in zip(online, pipe.execute(), strict=True)
        if not present
    ]
    now = timezone.now()
    # Conditional update: a charger that reconnected meanwhile (presence back) is left alone by
    # the node that holds it; running the sweep twice changes nothing the second time.
    summary = "Connection lost (no bridge node)"
    with transaction.atomic():  # the flag and its events together
        changed = list(
            Charger.objects.filter(id__in=vanished, is_online=True)
            .select_for_update()
            .values_list("id", flat=True)
        )
        Charger.objects.filter(id__in=changed).update(is_online=False)
        ChargerEvent.objects.bulk_create(
            ChargerEvent(
                charger_id=charger_id,
                kind=EventKind.DISCONNECTED,
                timestamp=now,
                summary=summary,
            )
            for charger_id in changed
        )
        emit_many(presence_drafts([(charger_id, False, now, summary) for charger_id in changed]))
    return len(changed)


def close_sessions_of_offline_chargers() -> int:
    """Close the active sessions of chargers offline longer than
    ``SESSION_OFFLINE_CLOSE_MINUTES`` (stop reason PowerLoss, values inferred from the last meter
    value or the last-seen time, ``persistence.close_inferred``). Idempotent: a session is
    claimed by a conditional update, so two workers or two runs close it once."""
    cutoff = timezone.now() - timedelta(minutes=settings.SESSION_OFFLINE_CLOSE_MINUTES)
    stale = (
        Charger.objects.filter(
            is_online=False,
            sessions__status=SessionStatus.ACTIVE,
        )
        .filter(Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True))
        .values_list("id", "last_seen_at")
        .distinct()
    )
    closed = 0
    for charger_id, last_seen_at in stale:
        closed += len(
            persistence.close_inferred(
                charger_id, StopReason.POWER_LOSS, timezone.now(), last_seen_at=last_seen_at
            )
        )
    return closed
