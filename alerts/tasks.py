"""Celery entry points of the alerts app; thin wrappers over ``alerts.services`` and
``alerts.outbox``."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def check_and_send() -> int:
    """Beat (every ALERTS_CHECK_INTERVAL_S): offline incidents that passed a subscriber's
    threshold get their e-mail, then what is due is sent."""
    from alerts import outbox, services

    services.evaluate_incidents()
    return outbox.send_due()


@shared_task(ignore_result=True)
def send_mails() -> int:
    """Send what is due (woken after alerts are written)."""
    from alerts import outbox

    return outbox.send_due()


@shared_task(ignore_result=True)
def send_digests() -> int:
    """Daily (ALERTS_DIGEST_HOUR): one digest per recipient of the alerts held for it."""
    from alerts import outbox, services

    written = services.send_digests()
    outbox.send_due()
    return written
