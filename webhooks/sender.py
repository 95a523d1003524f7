"""Sending webhook deliveries: claiming endpoints, the sender loop, recording each attempt,
retries with backoff, disabling an endpoint after persistent failure.

Sending never holds a database transaction over the network: an endpoint is claimed with a
lease (``busy_until``, set in a short transaction that picks endpoints with ``SELECT ... FOR
UPDATE SKIP LOCKED``), its due deliveries are sent one at a time in event order over one
kept-alive connection, the results are written as they come, and the lease is given back.
Endpoints are served on threads of their own, so a receiver that hangs costs its own thread one
timeout, never another endpoint's delivery; a failure ends that endpoint's turn (it rests a few
seconds; the failed delivery waits for its retry). A worker that dies leaves a lease that
expires: its deliveries are sent again (at least once, the same ``webhook-id``).
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import close_old_connections, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from installations.choices import Role
from installations.models import Membership
from webhooks.choices import OPEN_STATUSES, DeliveryStatus
from webhooks.delivery import Connections, Outcome, post
from webhooks.models import Delivery, Endpoint

logger = logging.getLogger(__name__)

# Nominal waits before the 2nd, 3rd, ... attempt (seconds): about a day and a half in all. Each
# wait is drawn uniformly between 0 and its step (full jitter), so receivers coming back up are
# not hit by every sender at once.
RETRY_SCHEDULE_S = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600)
# An endpoint is disabled when a delivery has spent every retry, or after this many failed
# attempts in a row spread over at least FAILING_FOR (nothing got through for a day).
DISABLE_AFTER_FAILURES = 20
FAILING_FOR = timedelta(days=1)
CLAIM_BATCH = 16  # endpoints claimed at once by one sender
SENDER_THREADS = 8
DRAIN_LIMIT = 50  # deliveries sent to one endpoint per claim
WRITE_BATCH = 10  # successful deliveries written in one UPDATE
POLL_S = 0.1  # how often a running sender looks for new due deliveries
LINGER_S = 3.0  # a sender that ran out of work waits this long for more before it ends
REST_AFTER_FAILURE = timedelta(seconds=5)  # an endpoint that just failed waits this long
SENDER_LOCK_KEY = "fusebox:webhooks:sender"
SENDER_LOCK_S = 15  # a sender that died frees the lock after this long


def retry_delay_s(attempts: int) -> float | None:
    """The wait after the ``attempts``-th failed attempt (full jitter), or None: give up."""
    if attempts > len(RETRY_SCHEDULE_S):
        return None
    return random.uniform(0, RETRY_SCHEDULE_S[attempts - 1])


def lease() -> timedelta:
    """How long a claim on an endpoint holds: long enough for a turn of deliveries to a slow
    receiver; a dead worker's claim expires after it."""
    return timedelta(seconds=max(60.0, 3 * settings.WEBHOOKS_TIMEOUT_S))


def is_free(now: datetime) -> Q:
    """Endpoints no sender holds now."""
    return Q(busy_until__isnull=True) | Q(busy_until__lt=now)


def work_waiting(now: datetime | None = None) -> bool:
    """Whether an endpoint that no sender holds has a due delivery."""
    now = now or timezone.now()
    due = Delivery.objects.filter(
        endpoint=OuterRef("pk"), status__in=OPEN_STATUSES, next_attempt_at__lte=now
    )
    return Endpoint.objects.filter(is_free(now), Exists(due), enabled=True).exists()


def claim_endpoints(limit: int = CLAIM_BATCH, now: datetime | None = None) -> list[int]:
    """Enabled endpoints with due deliveries that no sender holds, least recently served
    first; each is leased to the caller. Safe on many workers at once (SKIP LOCKED)."""
    now = now or timezone.now()
    due = Delivery.objects.filter(
        endpoint=OuterRef("pk"), status__in=OPEN_STATUSES, next_attempt_at__lte=now
    )
    with transaction.atomic():
        ids = list(
            Endpoint.objects.filter(is_free(now), Exists(due), enabled=True)
            .order_by(F("busy_until").asc(nulls_first=True), "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        Endpoint.objects.filter(pk__in=ids).update(busy_until=now + lease())
    return ids


def send_due(limit: int = CLAIM_BATCH) -> int:
    """One round: claim endpoints with due deliveries and send them, one thread per endpoint;
    the number of attempts made (the tests' entry point; the worker runs ``run_sender``)."""
    ids = claim_endpoints(limit)
    if len(ids) <= 1:
        return sum(_drain_safely(endpoint_id) for endpoint_id in ids)
    with ThreadPoolExecutor(min(len(ids), SENDER_THREADS), "webhooks") as pool:
        return sum(pool.map(_drain_on_thread, ids))


def run_sender(run_for_s: float, poll_s: float = POLL_S, linger_s: float = LINGER_S) -> int | None:
    """Send for up to ``run_for_s`` seconds while there is work: a thread that is done with an
    endpoint takes the next one claimed, without waiting for the others, so a receiver that
    hangs holds its own thread only. Ends when nothing was due for ``linger_s`` after it sent
    something (events come in bursts; starting a new task costs more than waiting a moment) and
    nothing is under way; at once when nothing is due at its first look (the beat's call every
    few seconds must not hold a worker process idle).

    One sender runs at a time (a Redis lock, refreshed while it runs): it looks for new work
    every ``poll_s``, so a wake-up or beat while it runs has nothing to add, and it must not
    take a second worker process that the event consumers need. None when another one runs."""
    from portal.redis import get_redis

    redis = get_redis()
    token = secrets.token_hex(8)
    if not redis.set(SENDER_LOCK_KEY, token, nx=True, ex=SENDER_LOCK_S):
        return None
    started = time.monotonic()
    sent = 0
    try:
        with ThreadPoolExecutor(SENDER_THREADS, "webhooks") as pool:
            running: set[Future[int]] = set()
            last_work = time.monotonic()
            worked = False
            while True:
                now = time.monotonic()
                free = SENDER_THREADS - len(running)
                if free and now - started < run_for_s:
                    redis.set(SENDER_LOCK_KEY, token, xx=True, ex=SENDER_LOCK_S)
                    claimed = claim_endpoints(free)
                    running |= {pool.submit(_drain_on_thread, pk) for pk in claimed}
                    if claimed:
                        last_work, worked = now, True
                if not running:
                    idle = now - last_work >= linger_s or now - started >= run_for_s
                    if idle or not worked:  # nothing due at the first look: no wait for more
                        break
                    time.sleep(poll_s)
                    continue
                done, running = wait(running, timeout=poll_s, return_when=FIRST_COMPLETED)
                sent += sum(future.result() for future in done)
    finally:
        if redis.get(SENDER_LOCK_KEY) == token:
            redis.delete(SENDER_LOCK_KEY)
    return sent


def _drain_on_thread(endpoint_id: int) -> int:
    close_old_connections()
    try:
        return _drain_safely(endpoint_id)
    finally:
        connection.close()  # this thread's own connection


def _drain_safely(endpoint_id: int) -> int:
    """``drain``; an error (e.g. the endpoint deleted meanwhile) is logged and ends only this
    endpoint's turn, never the sender (its lease expires; the deliveries are tried again)."""
    try:
        return drain(endpoint_id)
    except Exception:
        logger.exception("Sending to webhook endpoint %s failed", endpoint_id)
        return 0


def drain(endpoint_id: int) -> int:
    """Send an endpoint's due deliveries in event order (the caller holds its lease) until one
    fails, none is left, ``DRAIN_LIMIT`` are sent or the lease runs short; then release it
    (after a failure only ``REST_AFTER_FAILURE`` later: a receiver that is down is not asked
    for every waiting delivery in a row). One kept-alive connection; successes are written
    in batches (a worker that dies before writing them sends them again: at least once)."""
    started = timezone.now()
    stop_at = started + lease() - timedelta(seconds=settings.WEBHOOKS_TIMEOUT_S + 5)
    sent = 0
    rest_until = None
    succeeded: list[Delivery] = []
    connections = Connections()
    try:
        endpoint = Endpoint.objects.filter(pk=endpoint_id, enabled=True).first()
        if endpoint is None:
            return 0
        due = list(
            Delivery.objects.filter(
                endpoint=endpoint, status__in=OPEN_STATUSES, next_attempt_at__lte=started
            ).order_by("id")[:DRAIN_LIMIT]
        )
        for delivery in due:
            if timezone.now() > stop_at:
                break
            outcome = post(
                endpoint.url, endpoint.secret, delivery.message_id, delivery.payload, connections
            )
            sent += 1
            if outcome.succeeded:
                _apply(delivery, outcome)
                succeeded.append(delivery)
                if len(succeeded) >= WRITE_BATCH:
                    _write_successes(endpoint, succeeded)
                continue
            _write_successes(endpoint, succeeded)
            record(endpoint, delivery, outcome)
            rest_until = timezone.now() + REST_AFTER_FAILURE
            break
    finally:
        connections.close()
        if succeeded:
            _write_successes(endpoint, succeeded)
        Endpoint.objects.filter(pk=endpoint_id).update(busy_until=rest_until or timezone.now())
    return sent


RESULT_FIELDS = [
    "attempts", "last_attempt_at", "response_code", "last_error", "response_excerpt",
    "duration_ms", "status", "next_attempt_at", "updated_at",
]  # fmt: skip


def _apply(delivery: Delivery, outcome: Outcome) -> bool:
    """Put an attempt's result on ``delivery`` (in memory); True when it gave up."""
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = delivery.updated_at = now
    delivery.response_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.response_excerpt = outcome.excerpt
    delivery.duration_ms = outcome.duration_ms
    if outcome.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_attempt_at = None
        return False
    delay = None if delivery.is_test else retry_delay_s(delivery.attempts)
    delivery.status = DeliveryStatus.GAVE_UP if delay is None else DeliveryStatus.FAILED
    delivery.next_attempt_at = None if delay is None else now + timedelta(seconds=delay)
    return delay is None


def _write_successes(endpoint: Endpoint, deliveries: list[Delivery]) -> None:
    """One UPDATE for the successful deliveries so far; the endpoint's failures start over."""
    if not deliveries:
        return
    Delivery.objects.bulk_update(deliveries, RESULT_FIELDS)
    deliveries.clear()
    _succeeded_once(endpoint)


def _succeeded_once(endpoint: Endpoint) -> None:
    if endpoint.consecutive_failures or endpoint.failing_since:
        Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0, failing_since=None)
        endpoint.consecutive_failures, endpoint.failing_since = 0, None


def record(
    endpoint: Endpoint, delivery: Delivery, outcome: Outcome, *, manual: bool = False
) -> None:
    """Write an attempt's result on the delivery and the endpoint's failure count; disable the
    endpoint after persistent failure (automatic attempts only: a manual one never disables)."""
    gave_up = _apply(delivery, outcome)
    delivery.save(update_fields=RESULT_FIELDS)
    if outcome.succeeded:
        _succeeded_once(endpoint)
        return
    if delivery.is_test:
        return  # a test message tells the owner something; it says nothing of real traffic
    now = timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        failing_since=Coalesce(F("failing_since"), now),
    )
    endpoint.refresh_from_db(fields=["consecutive_failures", "failing_since", "enabled"])
    if manual or not endpoint.enabled:
        return
    failing_since = endpoint.failing_since or now
    if gave_up:
        reason = (
            f"Delivery {delivery.message_id} ({delivery.event_type}) failed"
            f" {delivery.attempts} times over {_span(delivery.created_at, now)}; the last"
            f" attempt: {outcome.error}."
        )
    elif (
        endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES
        and now - failing_since >= FAILING_FOR
    ):
        reason = (
            f"{endpoint.consecutive_failures} attempts in a row failed since"
            f" {failing_since:%Y-%m-%d %H:%M} UTC; the last: {outcome.error}."
        )
    else:
        return
    disable_after_failures(endpoint, reason[:300])


def _span(start: datetime, end: datetime) -> str:
    hours = (end - start).total_seconds() / 3600
    return f"{hours:.1f} hours" if hours >= 1 else f"{(end - start).total_seconds():.0f} seconds"


def disable_after_failures(endpoint: Endpoint, reason: str) -> bool:
    """Disable the endpoint (once) and tell the installation's owners by e-mail."""
    disabled = Endpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
        enabled=False, disabled_reason=reason
    )
    endpoint.enabled, endpoint.disabled_reason = False, reason
    if disabled:
        logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
        transaction.on_commit(lambda: tell_owners(endpoint.pk))
    return bool(disabled)


def tell_owners(endpoint_id: int) -> None:
    """The e-mail now; when the mail server fails, a Celery task tries again (with backoff),
    so the owners are not left uninformed by a mail server that is down for a while."""
    try:
        send_disabled_email(endpoint_id)
    except Exception:
        logger.warning(
            "E-mail about disabled webhook %s failed; retried", endpoint_id, exc_info=True
        )
        from webhooks.tasks import email_owners_disabled

        email_owners_disabled.apply_async((endpoint_id,), countdown=60)


def send_disabled_email(endpoint_id: int) -> int:
    """E-mail the owners of the endpoint's installation that it was disabled, and why."""
    endpoint = Endpoint.objects.select_related("installation").get(pk=endpoint_id)
    recipients = list(
        Membership.objects.filter(installation=endpoint.installation, role=Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return 0
    page = settings.SITE_URL.rstrip("/") + reverse("webhooks:list", args=[endpoint.installation_id])
    context = {"endpoint": endpoint, "installation": endpoint.installation, "url": page}
    return send_mail(
        subject=f"[Fusebox] Webhook to {endpoint.url} disabled at {endpoint.installation.name}",
        message=render_to_string("webhooks/email/disabled.txt", context),
        from_email=None,
        recipient_list=recipients,
    )
