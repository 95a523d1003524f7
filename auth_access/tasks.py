"""Celery entry points of access control, and the debounced, on-commit ways to queue them.

- ``sync_local_list(charger_id, configure)``: one charger's Local Authorization List (and, at
  boot or when its mode changed, its authorization settings). One sync per charger at a time (a
  Redis lock); a change during a sync makes that sync run once more.
- ``enforce_access(installation_id)``: where the installation stops running sessions on
  revocation, RemoteStopTransaction for every session in progress whose holder the decision
  function no longer accepts.

``request_local_list_sync()`` and ``request_enforcement()`` queue them after the commit, one
task per charger (installation) within ``DEBOUNCE_S`` however many changes arrive.

Periodic (Celery beat, ``CELERY_BEAT_SCHEDULE`` in portal/settings.py; the work is in
``auth_access.hygiene``):

- ``prune()``, daily: authorization records past ``ACCESS_RECORD_RETENTION_DAYS``, seen cards
  not seen for ``ACCESS_SEEN_CARD_RETENTION_DAYS``.
- ``sweep()``, every ``ACCESS_SWEEP_SECONDS``: list syncs to retry, cards that expired during a
  session (where sessions stop on revocation), remote starts to settle.
- ``expire_reservations()``, every 30 s: reservations past their expiry
  (``auth_access.reservations.expire``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from auth_access.choices import AuthorizationTrigger, RunningSessionPolicy
from portal.redis import get_redis

DEBOUNCE_S = 2.0
LOCK_TIMEOUT_S = 600
MAX_ROUNDS = 3
QUEUED_KEY = "fusebox:access:local-list:queued:{charger_id}:{configure}"
LOCK_KEY = "fusebox:access:local-list:lock:{charger_id}"
DIRTY_KEY = "fusebox:access:local-list:dirty:{charger_id}"
ENFORCE_QUEUED_KEY = "fusebox:access:enforce:queued:{installation_id}"
STOP_RETRY_AFTER = timedelta(minutes=5)  # a session still running after an accepted stop


@shared_task(ignore_result=True)
def sync_local_list(charger_id: int, configure: bool = False) -> int:
    """Sync one charger's list; returns how many rounds ran (0: another worker is on it)."""
    from auth_access import local_list

    redis = get_redis()
    redis.delete(QUEUED_KEY.format(charger_id=charger_id, configure=int(configure)))
    dirty = DIRTY_KEY.format(charger_id=charger_id)
    lock = redis.lock(LOCK_KEY.format(charger_id=charger_id), timeout=LOCK_TIMEOUT_S)
    if not lock.acquire(blocking=False):
        redis.set(dirty, "1", ex=LOCK_TIMEOUT_S)  # the running sync goes round once more
        if configure:  # the boot set-up must not be lost: queue it behind the running sync
            sync_local_list.apply_async((charger_id, True), countdown=DEBOUNCE_S)
        return 0
    rounds = 0
    try:
        while rounds < MAX_ROUNDS:
            redis.delete(dirty)
            local_list.sync_charger(charger_id, configure_first=configure and rounds == 0)
            rounds += 1
            if not redis.exists(dirty):
                break
    finally:
        lock.release()
    return rounds


@shared_task(ignore_result=True)
def enforce_access(installation_id: int) -> int:
    """Stop the sessions in progress that would not be accepted now; returns how many."""
    from auth_access import checks
    from auth_access.decisions import authorize
    from auth_access.models import AccessPolicy
    from chargers.choices import SessionStatus
    from chargers.models import ChargeSession
    from commands import routing
    from commands.choices import CommandAction, CommandSource, CommandStatus
    from commands.models import Command

    get_redis().delete(ENFORCE_QUEUED_KEY.format(installation_id=installation_id))
    policy = AccessPolicy.objects.filter(installation_id=installation_id).first()
    if policy is None or policy.running_session_policy != RunningSessionPolicy.STOP:
        return 0
    sessions = ChargeSession.objects.filter(
        charger__installation_id=installation_id, status=SessionStatus.ACTIVE, user__isnull=False
    ).select_related("charger__installation", "connector")
    stopped = 0
    for session in sessions:
        if authorize(session.charger, session.id_tag).accepted:
            continue
        # A stop on its way, or accepted lately (the StopTransaction follows): not again.
        stopping = Command.objects.filter(
            charger_id=session.charger_id,
            action=CommandAction.REMOTE_STOP_TRANSACTION,
            status__in=[CommandStatus.PENDING, CommandStatus.SENT, CommandStatus.ACCEPTED],
            payload__transactionId=session.pk,
            created_at__gt=timezone.now() - STOP_RETRY_AFTER,
        )
        if stopping.exists():
            continue
        checks.begin(  # records the refusal that ends the session
            session.charger_id,
            session.id_tag,
            AuthorizationTrigger.REVOCATION,
            connector_id=session.connector.connector_id,
        )
        with transaction.atomic():
            routing.issue_command(
                session.charger,
                CommandAction.REMOTE_STOP_TRANSACTION,
                {"transactionId": session.pk},
                source=CommandSource.SYSTEM,
            )
        stopped += 1
    return stopped


@shared_task(ignore_result=True)
def prune() -> dict[str, int]:
    """Daily: old authorization records and seen cards; how many of each were deleted."""
    from auth_access import hygiene

    return {
        "records": hygiene.prune_records(timedelta(days=settings.ACCESS_RECORD_RETENTION_DAYS)),
        "seen_cards": hygiene.prune_seen_cards(
            timedelta(days=settings.ACCESS_SEEN_CARD_RETENTION_DAYS)
        ),
    }


@shared_task(ignore_result=True)
def sweep() -> dict[str, int]:
    """Periodic: retry list syncs, stop sessions whose card expired, settle remote starts."""
    from auth_access import hygiene

    now = timezone.now()
    return {
        "list_syncs": hygiene.retry_list_syncs(now=now),
        "enforcements": len(hygiene.enforce_expired_cards(now=now)),
        "remote_starts": hygiene.settle_remote_starts(now=now),
    }


def request_local_list_sync(charger_ids: Iterable[int], *, configure: bool = False) -> None:
    """Queue a sync of each charger's list after the commit, debounced (sync code)."""
    ids = sorted(set(charger_ids))
    if not ids:
        return

    def enqueue() -> None:
        redis = get_redis()
        pipe = redis.pipeline(transaction=False)
        for charger_id in ids:
            key = QUEUED_KEY.format(charger_id=charger_id, configure=int(configure))
            pipe.set(key, "1", nx=True, px=int(DEBOUNCE_S * 1000) + 30_000)
        for charger_id, fresh in zip(ids, pipe.execute(), strict=True):
            if fresh:
                sync_local_list.apply_async((charger_id, configure), countdown=DEBOUNCE_S)

    transaction.on_commit(enqueue)


def request_enforcement(installation_ids: Iterable[int]) -> None:
    """Queue ``enforce_access`` after the commit for the installations that stop sessions."""
    from auth_access.models import AccessPolicy

    ids = sorted(set(installation_ids))
    if not ids:
        return

    def enqueue() -> None:
        stopping = AccessPolicy.objects.filter(
            Q(installation_id__in=ids), running_session_policy=RunningSessionPolicy.STOP
        ).values_list("installation_id", flat=True)
        redis = get_redis()
        for installation_id in stopping:
            key = ENFORCE_QUEUED_KEY.format(installation_id=installation_id)
            if redis.set(key, "1", nx=True, px=int(DEBOUNCE_S * 1000) + 30_000):
                enforce_access.apply_async((installation_id,), countdown=DEBOUNCE_S)

    transaction.on_commit(enqueue)


@shared_task(ignore_result=True)
def expire_reservations() -> dict[str, int]:
    """Periodic: reservations past their expiry are expired; unanswered ReserveNows settled."""
    from auth_access import reservations

    return reservations.expire()
