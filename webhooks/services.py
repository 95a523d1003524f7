"""Webhook workflows: endpoints (create, rotate the secret, enable), the fan-out of events into
deliveries (the consumer's body), the manual sends (redelivery, the test message), the log's
upkeep. Sending itself, with retries and disabling, is ``webhooks.sender``.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from events.models import Event
from events.serializers import event_json
from installations.models import Installation
from webhooks import sender
from webhooks.choices import OPEN_STATUSES, DeliveryStatus
from webhooks.delivery import post
from webhooks.models import TEST_EVENT_TYPE, Delivery, Endpoint, new_secret

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

DELIVERY_RETENTION_DAYS = 30  # finished deliveries are kept this long in the log
WAKE_KEY = "fusebox:webhooks:wake"


# --- endpoints -------------------------------------------------------------------------------


def create_endpoint(
    installation: Installation,
    *,
    url: str,
    description: str = "",
    event_types: Sequence[str] = (),
    user: User | None = None,
) -> Endpoint:
    """A new enabled endpoint with a fresh secret (``endpoint.secret``: show it this once).
    Raises ``ValidationError`` for a URL the SSRF guard refuses or an unknown event type."""
    endpoint = Endpoint(
        installation=installation,
        url=url,
        description=description,
        event_types=sorted(set(event_types)),
        created_by=user,
    )
    endpoint.full_clean()
    endpoint.save()
    return endpoint


def rotate_secret(endpoint: Endpoint) -> str:
    """A new secret (the old one stops signing at once); returned to be shown this once."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def set_enabled(endpoint: Endpoint, enabled: bool, user: User | None = None) -> Endpoint:
    """Enable (the failure count starts over; waiting deliveries go out again) or disable."""
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = ""
        endpoint.failing_since = None
        endpoint.consecutive_failures = 0
    else:
        endpoint.disabled_reason = f"Disabled by {user}." if user else "Disabled."
    endpoint.save(
        update_fields=["enabled", "disabled_reason", "failing_since", "consecutive_failures"]
    )
    if enabled:
        wake_sender_on_commit()
    return endpoint


# --- fan-out (the "webhooks" event consumer) -------------------------------------------------


def message_id(event_id: int, endpoint_id: int) -> str:
    """The ``webhook-id`` of an event's delivery to an endpoint: stable across attempts."""
    return f"msg_{event_id}_{endpoint_id}"


def fan_out(events: Sequence[Event]) -> int:
    """One pending delivery per event and enabled endpoint that wants its type (in the
    consumer's transaction: exactly once, and the unique constraint holds it)."""
    if not events:
        return 0
    by_installation: dict[int, list[Endpoint]] = defaultdict(list)
    for endpoint in Endpoint.objects.filter(
        enabled=True, installation_id__in={e.installation_id for e in events}
    ).only("pk", "installation_id", "event_types"):
        by_installation[endpoint.installation_id].append(endpoint)
    now = timezone.now()
    rows = [
        Delivery(
            endpoint=endpoint,
            event=event,
            event_type=event.type,
            message_id=message_id(event.pk, endpoint.pk),
            payload=event_json(event),
            next_attempt_at=now,
        )
        for event in events
        for endpoint in by_installation.get(event.installation_id, ())
        if endpoint.wants(event.type)
    ]
    if rows:
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        wake_sender_on_commit()
    return len(rows)


def wake_sender_on_commit() -> None:
    transaction.on_commit(_wake)


def _wake() -> None:
    """Ask a worker to send soon (once per second across processes), unless a sender runs (it
    finds the new deliveries itself); the beat sends anyway."""
    try:
        from portal.redis import get_redis
        from webhooks.tasks import send_due_deliveries

        redis = get_redis()
        if not redis.exists(sender.SENDER_LOCK_KEY) and redis.set(WAKE_KEY, "1", nx=True, px=1000):
            send_due_deliveries.apply_async(countdown=0.1)
    except Exception:
        logger.warning("Waking the webhook sender failed", exc_info=True)


# --- manual sends: redelivery and the test message --------------------------------------------


def attempt_now(delivery: Delivery) -> Delivery:
    """Send ``delivery`` at once (a person asked: redeliver, test), when no sender holds its
    endpoint; otherwise it stays due and the sender takes it in turn. Sends to a disabled
    endpoint too (the owner checks a fixed receiver before enabling it again)."""
    now = timezone.now()
    endpoint = delivery.endpoint
    claimed = Endpoint.objects.filter(sender.is_free(now), pk=endpoint.pk).update(
        busy_until=now + sender.lease()
    )
    if not claimed:
        wake_sender_on_commit()
        return delivery
    try:
        outcome = post(endpoint.url, endpoint.secret, delivery.message_id, delivery.payload)
        sender.record(endpoint, delivery, outcome, manual=True)
    finally:
        Endpoint.objects.filter(pk=endpoint.pk).update(busy_until=timezone.now())
    return delivery


def redeliver(delivery: Delivery) -> Delivery:
    """Send a delivery again with its ``webhook-id`` (at least once: the receiver dedups)."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )
    delivery.refresh_from_db()
    return attempt_now(delivery)


def test_body(endpoint: Endpoint, now: datetime | None = None) -> dict[str, Any]:
    """A synthetic event in the catalogue's JSON shape, type ``webhook.test`` (not in the
    catalogue: it is never in the outbox, only sent by the test button)."""
    now = (now or timezone.now()).astimezone(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "id": None,
        "type": TEST_EVENT_TYPE,
        "version": 1,
        "severity": "info",
        "timestamp": stamp,
        "recorded_at": stamp,
        "installation": endpoint.installation_id,
        "charger": None,
        "connector": 0,
        "data": {"endpoint": endpoint.pk, "message": "A test message from Fusebox."},
    }


def send_test(endpoint: Endpoint) -> Delivery:
    """Make and send a ``webhook.test`` delivery, signed like every other; tried once."""
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event=None,
        event_type=TEST_EVENT_TYPE,
        message_id=f"msg_test_{secrets.token_hex(8)}",
        payload=test_body(endpoint),
        next_attempt_at=timezone.now(),
    )
    delivery.endpoint = endpoint
    return attempt_now(delivery)


def prune_deliveries(now: datetime | None = None) -> int:
    """Delete finished deliveries (succeeded, gave up) last touched more than
    ``DELIVERY_RETENTION_DAYS`` ago; the ones still being tried stay. Idempotent."""
    cutoff = (now or timezone.now()) - timedelta(days=DELIVERY_RETENTION_DAYS)
    deleted, _ = (
        Delivery.objects.exclude(status__in=OPEN_STATUSES).filter(updated_at__lt=cutoff).delete()
    )
    return deleted
