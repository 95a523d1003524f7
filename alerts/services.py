"""Deciding alerts: who is told of what, once, and writing the rendered e-mail to the outbox.

- **Incidents** (``evaluate_incidents``): an incident's members are told once when it opens
  (a fault or a fuse overload at once; an offline incident once it is
  ``offline_threshold_minutes`` old and still open) and once when it recovers (only those told
  of its opening; a fault that cleared before anyone was told is told once, opened and
  cleared). A grouped incident (a site's chargers
  failing together, ``events.incidents``) is one e-mail listing its chargers. Run by the
  "alerts" event consumer for the installations its batch touched and by the beat (the
  threshold passes without an event).
- **Sessions** (``session_alert``): a driver who opted in hears of their own session's end.
- **Delivery**: immediate, or held for the daily digest (the subscription says so, or the
  recipient already got ``ALERTS_RATE_LIMIT_PER_HOUR`` e-mails in the past hour).
- Only to a verified address (allauth's ``EmailAddress``, primary first); none: nothing.

Every e-mail has a ``dedup_key`` (unique), so running any of this twice writes nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from alerts import unsubscribe
from alerts.choices import AlertKind, DeliveryMode, MailStatus
from alerts.models import (
    MAX_OFFLINE_THRESHOLD_MIN,
    AlertMail,
    Subscription,
    may_hear_of_incidents,
)
from chargers.choices import StopReason
from events.choices import IncidentKind
from events.models import Event, Incident, IncidentCharger
from installations.models import Installation, Membership

RECOVERY_LOOKBACK = timedelta(days=1)  # incidents ended this recently may still owe a recovery
BEAT_OPEN_WINDOW = timedelta(minutes=MAX_OFFLINE_THRESHOLD_MIN) + timedelta(hours=1)
BEAT_ENDED_WINDOW = timedelta(minutes=10)
# News older than this is not sent (a fault cleared, a session ended): the consumer's first run
# reads the whole outbox, and a backlog after the workers were down is history, not an alert.
STALE_AFTER = timedelta(hours=1)
# A session that ended for one of these reasons (and was not closed by inference) finished
# normally; anything else stopped unexpectedly.
EXPECTED_STOPS = {StopReason.LOCAL, StopReason.REMOTE, StopReason.EV_DISCONNECTED}


ALERT_KIND_OF = {
    IncidentKind.OFFLINE: AlertKind.OFFLINE,
    IncidentKind.FAULT: AlertKind.FAULT,
    IncidentKind.OVERLOAD: AlertKind.OVERLOAD,
}


@dataclass
class Subscriber:
    """A member of an installation with their subscription (saved, or their role's defaults)."""

    membership: Membership
    subscription: Subscription
    muted: set[int]


def subscribers(installation_id: int, user_id: int | None = None) -> list[Subscriber]:
    """Every active member of the installation (or only ``user_id``) with what they asked for."""
    saved_subs = Subscription.objects.filter(installation_id=installation_id)
    memberships = Membership.objects.filter(installation_id=installation_id, user__is_active=True)
    if user_id is not None:
        saved_subs = saved_subs.filter(user_id=user_id)
        memberships = memberships.filter(user_id=user_id)
    saved = {sub.user_id: sub for sub in saved_subs.prefetch_related("muted_chargers")}
    found = []
    for membership in memberships.select_related("user", "installation"):
        sub = saved.get(membership.user_id)
        if sub is None:
            found.append(Subscriber(membership, Subscription.for_membership(membership), set()))
        else:
            muted = {charger.pk for charger in sub.muted_chargers.all()}
            found.append(Subscriber(membership, sub, muted))
    return found


def verified_address(user_id: int) -> str | None:
    """The user's verified address (primary first), or None."""
    return (
        EmailAddress.objects.filter(user_id=user_id, verified=True)
        .order_by("-primary", "id")
        .values_list("email", flat=True)
        .first()
    )


def missing_subscriptions(user: Any) -> list[Subscription]:
    """The role's defaults, unsaved, for every installation of ``user`` that has no
    subscription yet."""
    have = Subscription.objects.filter(user=user).values("installation_id")
    missing = Membership.objects.filter(user=user).exclude(installation_id__in=have)
    return [Subscription.for_membership(m) for m in missing.order_by("installation_id")]


def ensure_subscriptions(user: Any) -> None:
    """Save the role's defaults for every installation of ``user`` that has no subscription
    yet (the Alerts page and the API show real rows)."""
    Subscription.objects.bulk_create(missing_subscriptions(user), ignore_conflicts=True)


# --- incidents ---------------------------------------------------------------------------------


def evaluate_incidents(
    installation_ids: Iterable[int] | None = None, now: datetime | None = None
) -> int:
    """Write what open and recently ended incidents owe their subscribers; the number of
    e-mails written. Idempotent. With ``installation_ids`` (the consumer): those
    installations' open incidents and those ended within ``RECOVERY_LOOKBACK``. Without (the
    beat, every few seconds, for thresholds that pass without an event): open incidents that
    started within ``BEAT_OPEN_WINDOW`` (every threshold has passed in older ones: a charger
    dead for weeks costs nothing) and those ended within ``BEAT_ENDED_WINDOW`` (a recovery the
    consumer read before the incidents consumer had applied it)."""
    now = now or timezone.now()
    if installation_ids is not None:
        scope = Q(ended_at__isnull=True) | Q(ended_at__gte=now - RECOVERY_LOOKBACK)
        scope &= Q(installation_id__in=list(installation_ids))
    else:
        scope = Q(ended_at__isnull=True, started_at__gte=now - BEAT_OPEN_WINDOW) | Q(
            ended_at__gte=now - BEAT_ENDED_WINDOW
        )
    incidents = Incident.objects.filter(scope).select_related("installation", "circuit")
    written = 0
    by_installation: dict[int, list[Subscriber]] = {}
    for incident in incidents.order_by("started_at", "id"):
        if incident.installation_id not in by_installation:
            by_installation[incident.installation_id] = subscribers(incident.installation_id)
        written += _incident_mails(incident, by_installation[incident.installation_id], now)
    if written:
        wake_sender_on_commit()
    return written


def _incident_mails(incident: Incident, people: list[Subscriber], now: datetime) -> int:
    kind = ALERT_KIND_OF[IncidentKind(incident.kind)]
    template_name = (
        "alerts/email/overload" if kind == AlertKind.OVERLOAD else "alerts/email/incident"
    )
    prefix = f"incident:{incident.pk}:"
    sent = set(
        AlertMail.objects.filter(dedup_key__startswith=prefix).values_list("dedup_key", flat=True)
    )
    members: list[IncidentCharger] | None = None
    written = 0
    for person in people:
        sub = person.subscription
        # A driver is never told of the installation's incidents, whatever was saved (an
        # owner demoted to driver keeps their subscription row).
        if not sub.wants(kind) or not may_hear_of_incidents(person.membership.role):
            continue
        user_id = person.membership.user_id
        opened_key = f"{prefix}opened:user:{user_id}"
        recovered_key = f"{prefix}recovered:user:{user_id}"
        if incident.is_open:
            if opened_key in sent:
                continue
            threshold = timedelta(minutes=sub.offline_threshold_minutes)
            if kind == AlertKind.OFFLINE and now - incident.started_at < threshold:
                continue
            key, template = opened_key, "opened"
        else:
            if recovered_key in sent:
                continue
            if opened_key not in sent and (
                kind == AlertKind.OFFLINE or incident.ended_at < now - STALE_AFTER
            ):
                continue  # back before anyone was told, or a fault long gone: nothing to say
            key, template = recovered_key, "recovered" if opened_key in sent else "cleared"
        if members is None:
            members = list(incident.members.select_related("charger").order_by("started_at", "id"))
        shown = [m for m in members if m.charger_id not in person.muted]
        if not shown and kind != AlertKind.OVERLOAD:  # an overload is a fuse's: no chargers
            continue
        context = {"incident": incident, "members": shown, "kind": kind, "state": template}
        if queue(person, str(kind), key, template_name, context, now):
            written += 1
    return written


# --- sessions ----------------------------------------------------------------------------------


def session_alert(event: Event, now: datetime | None = None) -> bool:
    """A ``session.stopped`` event: its driver, when a member who opted in, hears of it."""
    payload = event.payload
    driver_id = payload.get("driver_id")
    now = now or timezone.now()
    if not driver_id or not payload.get("session_id") or event.recorded_at < now - STALE_AFTER:
        return False
    unexpected = bool(payload.get("inferred")) or payload.get("stop_reason") not in EXPECTED_STOPS
    kind = AlertKind.SESSION_STOPPED_UNEXPECTEDLY if unexpected else AlertKind.SESSION_FINISHED
    person = next(iter(subscribers(event.installation_id, driver_id)), None)
    if person is None or not person.subscription.wants(kind) or event.charger_id in person.muted:
        return False  # not (or no longer) a member: never told of this installation
    key = f"session:{payload['session_id']}:{kind}:user:{driver_id}"
    if AlertMail.objects.filter(dedup_key=key).exists():
        return False
    from chargers.models import Charger

    context = {
        "event": event,
        "payload": payload,
        "charger": Charger.objects.filter(pk=event.charger_id).first(),
        "energy_kwh": (payload.get("energy_wh") or 0) / 1000,
        "unexpected": unexpected,
    }
    written = queue(person, str(kind), key, "alerts/email/session", context, now)
    if written:
        wake_sender_on_commit()
    return written


# --- writing an e-mail -------------------------------------------------------------------------


def site_link(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def message_id_for(key: str) -> str:
    """The same Message-ID on every attempt of one e-mail."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = urlsplit(settings.SITE_URL).hostname or "fusebox.local"
    return f"<alert.{digest}@{domain}>"


def over_rate_limit(user_id: int, now: datetime) -> bool:
    """Did the user get ``ALERTS_RATE_LIMIT_PER_HOUR`` immediate alerts in the past hour?"""
    recent = AlertMail.objects.filter(
        user_id=user_id,
        created_at__gte=now - timedelta(hours=1),
        status__in=[MailStatus.PENDING, MailStatus.SENDING, MailStatus.SENT],
    ).exclude(kind="")
    return recent.count() >= settings.ALERTS_RATE_LIMIT_PER_HOUR


def queue(
    person: Subscriber, kind: str, key: str, template: str, context: dict[str, Any], now: datetime
) -> bool:
    """Render and write one alert e-mail for ``person`` (held for the digest when they asked
    for one or are over the rate limit); False when it exists already or they have no
    verified address."""
    user_id = person.membership.user_id
    address = verified_address(user_id)
    if address is None or AlertMail.objects.filter(dedup_key=key).exists():
        return False
    installation: Installation = person.membership.installation
    held = person.subscription.delivery == DeliveryMode.DIGEST or over_rate_limit(user_id, now)
    unsubscribe_url = unsubscribe.url_for(user_id, installation.pk)
    context = {
        **context,
        "installation": installation,
        "user": person.membership.user,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": site_link(reverse("alerts:settings")),
        "incidents_url": site_link(
            reverse("events:installation_incidents", args=[installation.pk])
        ),
    }
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    AlertMail.objects.bulk_create(
        [
            AlertMail(
                user_id=user_id,
                installation=installation,
                kind=kind,
                to_address=address,
                subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}"[:250],
                text_body=render_to_string(f"{template}.txt", context),
                html_body=render_to_string(f"{template}.html", context),
                unsubscribe_url=unsubscribe_url,
                dedup_key=key,
                message_id=message_id_for(key),
                status=MailStatus.HELD if held else MailStatus.PENDING,
                next_attempt_at=None if held else timezone.now(),
            )
        ],
        ignore_conflicts=True,
    )
    return True


# --- the daily digest --------------------------------------------------------------------------


def send_digests(now: datetime | None = None) -> int:
    """One digest per user with held alerts (once a day: ``digest:user:<id>:<date>``); the
    number of digests written."""
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    written = 0
    user_ids = (
        AlertMail.objects.filter(status=MailStatus.HELD)
        .values_list("user_id", flat=True)
        .distinct()
    )
    for user_id in list(user_ids):
        with transaction.atomic():
            written += _digest(user_id, day, now)
    if written:
        wake_sender_on_commit()
    return written


def _digest(user_id: int, day: str, now: datetime) -> int:
    key = f"digest:user:{user_id}:{day}"
    address = verified_address(user_id)
    if address is None or AlertMail.objects.filter(dedup_key=key).exists():
        return 0
    items = list(
        AlertMail.objects.filter(user_id=user_id, status=MailStatus.HELD)
        .select_related("installation", "user")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")
    )
    if not items:
        return 0
    unsubscribe_url = unsubscribe.url_for(user_id, None)
    count = f"{len(items)} alert{'s' if len(items) != 1 else ''}"
    context = {
        "items": items,
        "user": items[0].user,
        "day": day,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": site_link(reverse("alerts:settings")),
    }
    digest = AlertMail.objects.create(
        user_id=user_id,
        kind="",
        to_address=address,
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Your alerts digest: {count}",
        text_body=render_to_string("alerts/email/digest.txt", context),
        html_body=render_to_string("alerts/email/digest.html", context),
        unsubscribe_url=unsubscribe_url,
        dedup_key=key,
        message_id=message_id_for(key),
        status=MailStatus.PENDING,
        next_attempt_at=now,
    )
    AlertMail.objects.filter(pk__in=[item.pk for item in items]).update(
        status=MailStatus.DIGESTED, digest=digest
    )
    return 1


def wake_sender_on_commit() -> None:
    transaction.on_commit(_wake)


def _wake() -> None:
    """Ask a worker to send now; the beat sends anyway, so a failure is only logged."""
    import logging

    try:
        from alerts.tasks import send_mails

        send_mails.delay()
    except Exception:
        logging.getLogger(__name__).warning("Waking the alert sender failed", exc_info=True)
