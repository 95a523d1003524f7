"""Sending the outbox of alert e-mails (``AlertMail``), with retries.

A sender claims due e-mails with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease
(``status=sending``, ``lease_until``) in a short transaction, sends them over one SMTP connection
outside any transaction, and writes each outcome at once with a conditional UPDATE (only while
its claim holds). An e-mail the server did not take is tried again after a growing wait with
jitter (``RETRY_SCHEDULE_S``, about a day in all), then marked failed with the last error; one
whose sender died is claimed again when its lease has passed. Two senders never send the same
e-mail at once; the only duplicate left possible is a sender dying between the server's
acceptance and its UPDATE, and that retry carries the same ``Message-ID``.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alerts.choices import MailStatus
from alerts.models import AlertMail

logger = logging.getLogger(__name__)

# Nominal waits before the 2nd, 3rd, ... attempt (seconds); each drawn between half and all
# of its step. After the last, the e-mail is marked failed (about 27 hours after the first).
RETRY_SCHEDULE_S = (30, 120, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 8 * 3600)
LEASE = timedelta(minutes=2)
CLAIM_BATCH = 50
RUN_FOR_S = 50.0  # one run sends for at most this long; the next run goes on


def claim(now: datetime, limit: int = CLAIM_BATCH) -> list[AlertMail]:
    """Due e-mails (pending and due, or sending with a lapsed lease), leased to this sender."""
    due = Q(status=MailStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=MailStatus.SENDING, lease_until__lt=now
    )
    with transaction.atomic():
        ids = list(
            AlertMail.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        AlertMail.objects.filter(pk__in=ids).update(
            status=MailStatus.SENDING, lease_until=now + LEASE
        )
    return list(AlertMail.objects.filter(pk__in=ids).order_by("next_attempt_at", "id"))


def message(mail: AlertMail) -> EmailMultiAlternatives:
    """The e-mail as sent: text and HTML, the one-click unsubscribe headers (RFC 2369, 8058)."""
    email = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.text_body,
        to=[mail.to_address],
        headers={
            "Message-ID": mail.message_id,
            "List-Unsubscribe": f"<{mail.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    email.attach_alternative(mail.html_body, "text/html")
    return email


def send_due(now: datetime | None = None, budget_s: float = RUN_FOR_S) -> int:
    """Send what is due, a claim at a time, until nothing is due, a claim fails entirely (the
    server is down: the rest waits for its retry) or ``budget_s`` has passed; the number sent.
    Safe on several workers at once."""
    started = time.monotonic()
    sent = 0
    while True:
        sent_now, claimed = _send_claim(now or timezone.now())
        sent += sent_now
        if claimed < CLAIM_BATCH or sent_now == 0 or time.monotonic() - started > budget_s:
            return sent


def _send_claim(now: datetime) -> tuple[int, int]:
    """One claim sent over one connection: (sent, claimed)."""
    mails = claim(now, CLAIM_BATCH)
    if not mails:
        return 0, 0
    sent = 0
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except Exception as error:  # the server is down: every claimed e-mail waits for a retry
        for mail in mails:
            _failed(mail, error, now)
        return 0, len(mails)
    try:
        for mail in mails:
            try:
                if connection.send_messages([message(mail)]) != 1:
                    raise RuntimeError("the mail backend took nothing")
            except Exception as error:
                _failed(mail, error, now)
            else:
                sent += AlertMail.objects.filter(pk=mail.pk, status=MailStatus.SENDING).update(
                    status=MailStatus.SENT,
                    sent_at=timezone.now(),
                    attempts=mail.attempts + 1,
                    lease_until=None,
                    last_error="",
                )
    finally:
        try:
            connection.close()
        except Exception:  # a server that went away mid-way: the outcomes are written
            logger.warning("Closing the SMTP connection failed", exc_info=True)
    return sent, len(mails)


def _failed(mail: AlertMail, error: Exception, now: datetime) -> None:
    attempts = mail.attempts + 1
    text = f"{type(error).__name__}: {error}"[:300]
    if attempts > len(RETRY_SCHEDULE_S):
        fields = {"status": MailStatus.FAILED, "next_attempt_at": None}
        logger.error("Alert e-mail %s given up after %s attempts: %s", mail.pk, attempts, text)
    else:
        step = RETRY_SCHEDULE_S[attempts - 1]
        wait = timedelta(seconds=random.uniform(step / 2, step))
        fields = {"status": MailStatus.PENDING, "next_attempt_at": now + wait}
        logger.warning("Alert e-mail %s not sent (attempt %s): %s", mail.pk, attempts, text)
    AlertMail.objects.filter(pk=mail.pk, status=MailStatus.SENDING).update(
        attempts=attempts, last_error=text, lease_until=None, **fields
    )
