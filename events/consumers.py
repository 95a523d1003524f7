"""Consumers of the outbox, each with its own durable cursor (``ConsumerCursor``).

``batch(name)`` reads the next events after the consumer's cursor and advances it when the
block ends without an exception, in one transaction: what the consumer writes to the database
in the block commits with the cursor (exactly once), and a consumer that fails mid-batch sees
the same batch again (at least once for side effects outside the database, such as an e-mail
or a webhook: deduplicate on the event id).

**The outbox gap.** Event ids come from a sequence, but transactions commit in another order:
a transaction may hold id 5 while id 6 commits, so "id > cursor" would skip 5 forever. Each
event stores the id of the transaction that wrote it (``Event.xid``, ``pg_current_xact_id()``)
and a consumer reads only events whose transaction is below ``pg_snapshot_xmin`` of its
statement's snapshot: every such transaction has ended, so no event with that xid can still
appear, and the set below the horizon only grows. Read in (xid, id) order with the cursor on
(xid, id), nothing is skipped. ``pg_current_snapshot()`` is the statement's own snapshot, the
one that decides which rows it sees. The price: an event waits for every transaction that was
running when it was written (the bridge's and the workers' are short; a long-running writing
transaction holds consumers back while it runs). A consumer's lock is an advisory transaction
lock, which takes no transaction id, so consumers do not hold each other back.

Consumers register with ``@consumer("name")``; ``run_all()`` (the beat task
``events.tasks.run_consumers``, also woken after commits) runs each until it is caught up.
``prune()`` drops events past ``EVENTS_RETENTION_DAYS`` that every consumer has passed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from events.models import ConsumerCursor, Event

logger = logging.getLogger(__name__)

Handler = Callable[[list[Event]], None]
CONSUMERS: dict[str, Handler] = {}
BATCH_SIZE = 500
BUSY_RETRY_S = 0.5  # a run that found a consumer busy asks for another run this much later
MAX_BATCHES_PER_RUN = 20  # a run ends after this many full batches; the next run goes on

# Below this transaction id every transaction has ended (committed or rolled back).
FINISHED_BELOW = RawSQL("pg_snapshot_xmin(pg_current_snapshot())::text::bigint", [])


class Busy(list[Event]):
    """The empty batch of a consumer another worker is reading (``batch``)."""


def consumer(name: str) -> Callable[[Handler], Handler]:
    """Register ``handler(events)`` as the consumer ``name`` (its cursor's name)."""

    def register(handler: Handler) -> Handler:
        CONSUMERS[name] = handler
        return handler

    return register


@contextmanager
def batch(name: str, limit: int = BATCH_SIZE) -> Iterator[list[Event]]:
    """The next events (at most ``limit``, in commit order) for consumer ``name``; the cursor
    moves past them when the block ends normally. Empty when another worker holds this
    consumer (the two never read the same batch at once)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [f"events:{name}"])
            (locked,) = cursor.fetchone()
        if not locked:
            yield Busy()
            return
        position = ConsumerCursor.objects.filter(name=name).values_list("xid", "event_id").first()
        xid, event_id = position or (0, 0)
        events = list(
            Event.objects.filter(xid__lt=FINISHED_BELOW)
            .filter(Q(xid__gt=xid) | Q(xid=xid, id__gt=event_id))
            .order_by("xid", "id")[:limit]
        )
        yield events
        if events:
            last = events[-1]
            ConsumerCursor.objects.update_or_create(
                name=name, defaults={"xid": last.xid, "event_id": last.pk}
            )


def run(name: str, handler: Handler, max_batches: int = MAX_BATCHES_PER_RUN) -> int | None:
    """Feed ``handler`` until caught up (or ``max_batches``); the number of events, or None
    when another worker is running this consumer."""
    done = 0
    for _ in range(max_batches):
        with batch(name) as events:
            if isinstance(events, Busy):
                return None
            if events:
                handler(events)
        done += len(events)
        if len(events) < BATCH_SIZE:
            break
    return done


def run_all() -> int:
    """Run every registered consumer; one failing is logged and does not stop the others. A
    consumer another worker is running may have missed a commit that woke this run while that
    worker's last batch was read: another run is asked for ``BUSY_RETRY_S`` later."""
    done, busy = 0, False
    for name, handler in CONSUMERS.items():
        try:
            count = run(name, handler)
        except Exception:
            logger.exception("Event consumer %s failed; it will see the batch again", name)
            continue
        busy = busy or count is None
        done += count or 0
    if busy:
        from events.tasks import run_consumers

        run_consumers.apply_async(countdown=BUSY_RETRY_S)
    return done


def prune() -> int:
    """Delete events recorded more than ``EVENTS_RETENTION_DAYS`` ago that every registered
    consumer has passed (a consumer that never ran keeps everything). Idempotent."""
    cutoff = timezone.now() - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    cursors = dict(
        (name, (xid, event_id))
        for name, xid, event_id in ConsumerCursor.objects.filter(
            name__in=list(CONSUMERS)
        ).values_list("name", "xid", "event_id")
    )
    if not CONSUMERS or len(cursors) < len(CONSUMERS):
        return 0
    xid, event_id = min(cursors.values())
    passed = Q(xid__lt=xid) | Q(xid=xid, id__lte=event_id)
    deleted, _ = Event.objects.filter(passed, recorded_at__lt=cutoff).delete()
    return deleted
