"""Periodic upkeep of access control, run by Celery beat (``auth_access.tasks.prune`` daily,
``auth_access.tasks.sweep`` every ``ACCESS_SWEEP_SECONDS``).

Every function is bounded per run and safe to run twice at once: deletes by id in batches (a
second worker deletes nothing), queueing goes through the debounced ``request_*`` helpers (one
task per charger or installation however often asked), remote starts move by conditional
UPDATEs.

- ``prune_records()``: authorization records older than ``ACCESS_RECORD_RETENTION_DAYS``.
- ``prune_seen_cards()``: seen cards not seen for ``ACCESS_SEEN_CARD_RETENTION_DAYS``.
- ``retry_list_syncs()``: online chargers whose Local Authorization List failed or is unknown
  (never sent, no answer, a version mismatch) since ``SYNC_RETRY_AFTER``, or that have no list
  state at all, get a sync (with the boot set-up when it never went through).
- ``enforce_expired_cards()``: where the installation stops running sessions on revocation, a
  card that expires during a session is a revocation too: ``tasks.enforce_access`` decides.
- ``settle_remote_starts()``: remote starts whose command failed or whose window passed get
  their final status (``RemoteStart.refresh_outcome``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from auth_access.choices import LocalListStatus, RemoteStartStatus, RunningSessionPolicy
from auth_access.models import AuthorizationRecord, RemoteStart, SeenCard
from auth_access.tasks import request_enforcement, request_local_list_sync
from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from commands.choices import CommandStatus

DELETE_BATCH = 5_000
MAX_BATCHES = 200  # a run deletes at most 1 million rows; the next run goes on
SYNC_RETRIES_PER_SWEEP = 50
SYNC_RETRY_AFTER = timedelta(minutes=5)  # a failing charger is retried this often, not more
ENFORCEMENTS_PER_SWEEP = 200
REMOTE_STARTS_PER_SWEEP = 500
FINAL_COMMAND_STATUSES = [CommandStatus.REJECTED, CommandStatus.FAILED, CommandStatus.TIMED_OUT]


def _delete_in_batches(queryset: QuerySet, batch: int) -> int:
    """Delete the rows of ``queryset`` by id, ``batch`` at a time (short transactions)."""
    deleted = 0
    for _ in range(MAX_BATCHES):
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            break
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    return deleted


def prune_records(
    older_than: timedelta, *, now: datetime | None = None, batch: int = DELETE_BATCH
) -> int:
    """Delete authorization records created before ``now - older_than``; how many."""
    cutoff = (now or timezone.now()) - older_than
    return _delete_in_batches(AuthorizationRecord.objects.filter(created_at__lt=cutoff), batch)


def prune_seen_cards(
    older_than: timedelta, *, now: datetime | None = None, batch: int = DELETE_BATCH
) -> int:
    """Delete seen cards last seen before ``now - older_than``; how many."""
    cutoff = (now or timezone.now()) - older_than
    return _delete_in_batches(SeenCard.objects.filter(last_seen_at__lt=cutoff), batch)


def retry_list_syncs(*, now: datetime | None = None, limit: int = SYNC_RETRIES_PER_SWEEP) -> int:
    """Queue a list sync for up to ``limit`` online chargers whose list is not in sync (the
    longest waiting first); how many."""
    now = now or timezone.now()
    due = Q(local_list__isnull=True) | Q(
        local_list__status__in=[LocalListStatus.UNKNOWN, LocalListStatus.FAILED],
        local_list__updated_at__lt=now - SYNC_RETRY_AFTER,
    )
    chargers = list(
        Charger.objects.filter(due, is_online=True)
        .order_by(F("local_list__updated_at").asc(nulls_first=True), "pk")
        .values_list("pk", "local_list__configured_at")[:limit]
    )
    request_local_list_sync([pk for pk, configured_at in chargers if configured_at is not None])
    # Never configured (the boot set-up was lost): settings and version first.
    request_local_list_sync(
        [pk for pk, configured_at in chargers if configured_at is None], configure=True
    )
    return len(chargers)


def enforce_expired_cards(
    *, now: datetime | None = None, limit: int = ENFORCEMENTS_PER_SWEEP
) -> list[int]:
    """Queue ``enforce_access`` for installations that stop sessions on revocation and have a
    session in progress whose card has expired; their ids."""
    now = now or timezone.now()
    sessions = ChargeSession.objects.filter(
        status=SessionStatus.ACTIVE,
        user__isnull=False,
        card__expires_at__lte=now,
        charger__installation__access_policy__running_session_policy=RunningSessionPolicy.STOP,
    )
    installations = list(
        sessions.order_by("charger__installation_id")
        .values_list("charger__installation_id", flat=True)
        .distinct()[:limit]
    )
    request_enforcement(installations)
    return installations


def settle_remote_starts(
    *, now: datetime | None = None, limit: int = REMOTE_STARTS_PER_SWEEP
) -> int:
    """Close open remote starts whose command failed or whose window passed; how many moved."""
    now = now or timezone.now()
    unsettled = RemoteStart.objects.filter(
        Q(expires_at__lte=now)
        | Q(status=RemoteStartStatus.REQUESTED, command__status__in=FINAL_COMMAND_STATUSES)
        | Q(status=RemoteStartStatus.REQUESTED, command__status=CommandStatus.ACCEPTED),
        status__in=RemoteStart.OPEN_STATUSES,
    ).select_related("command")
    moved = 0
    for remote_start in unsettled.order_by("expires_at")[:limit]:
        before = remote_start.status
        if remote_start.refresh_outcome(now).status != before:
            moved += 1
    return moved
