"""Celery entry points of the live loop: debounced event solves, the periodic sweep, one lock each.

One installation is never balanced twice at once: ``balance_installation`` takes a Redis lock per
installation, and an event that arrives while a solve runs marks the installation dirty so the
running task solves once more at the end instead of queueing a parallel one.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction

from balancing import service
from balancing.models import BalancingTrigger
from chargers.models import Charger
from portal.redis import get_redis

LOCK_KEY = "fusebox:balancing:lock:{installation_id}"
DIRTY_KEY = "fusebox:balancing:dirty:{installation_id}"
QUEUED_KEY = "fusebox:balancing:queued:{installation_id}"
LOCK_TIMEOUT_S = 60
MAX_ROUNDS = 3


@shared_task(ignore_result=True)
def balance_installation(
    installation_id: int, trigger: str = BalancingTrigger.EVENT, reason: str = ""
) -> int:
    """Solve ``installation_id`` unless another worker is solving it; return how many solves ran."""
    redis = get_redis()
    redis.delete(QUEUED_KEY.format(installation_id=installation_id))
    dirty_key = DIRTY_KEY.format(installation_id=installation_id)
    lock = redis.lock(LOCK_KEY.format(installation_id=installation_id), timeout=LOCK_TIMEOUT_S)
    if not lock.acquire(blocking=False):
        redis.set(dirty_key, "1", ex=LOCK_TIMEOUT_S)  # the running solve picks this up
        return 0
    rounds = 0
    try:
        while rounds < MAX_ROUNDS:
            redis.delete(dirty_key)
            service.balance(installation_id, BalancingTrigger(trigger), reason)
            rounds += 1
            if not redis.exists(dirty_key):
                break
            trigger, reason = BalancingTrigger.EVENT, "changes during the previous solve"
    finally:
        lock.release()
    return rounds


def request_balance(installation_id: int, reason: str) -> None:
    """Ask for a solve soon; events within the debounce window share one (call from sync code)."""

    def enqueue() -> None:
        queued = QUEUED_KEY.format(installation_id=installation_id)
        debounce_s = settings.BALANCING_DEBOUNCE_SECONDS
        if get_redis().set(queued, "1", nx=True, px=max(1, int(debounce_s * 1000) + 5000)):
            balance_installation.apply_async(
                (installation_id, BalancingTrigger.EVENT, reason), countdown=debounce_s
            )

    transaction.on_commit(enqueue)


@shared_task(ignore_result=True)
def sweep() -> int:
    """The periodic pass: every installation with a charger online gets a solve."""
    installations = (
        Charger.objects.filter(is_online=True).values_list("installation_id", flat=True).distinct()
    )
    count = 0
    for installation_id in installations.order_by("installation_id"):
        balance_installation.delay(installation_id, BalancingTrigger.SWEEP, "periodic sweep")
        count += 1
    return count


@shared_task(ignore_result=True)
def prune_decisions() -> int:
    """Daily: drop balancing decisions past ``BALANCING_DECISION_RETENTION_DAYS``."""
    days = settings.BALANCING_DECISION_RETENTION_DAYS
    return service.prune_decisions(timedelta(days=days))
