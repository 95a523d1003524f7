"""Celery entry points of the webhooks app; thin wrappers over ``webhooks.services``."""

from __future__ import annotations

from celery import shared_task

RUN_FOR_S = 50.0  # one task sends while there is work, for at most this long


@shared_task(ignore_result=True)
def send_due_deliveries() -> int:
    """Send what is due (beat every WEBHOOKS_SEND_INTERVAL_S, and woken after a fan-out); safe
    on several workers at once (endpoints are claimed with a lease)."""
    from webhooks import sender

    sent = sender.run_sender(RUN_FOR_S)
    if sent is not None and sender.work_waiting():
        send_due_deliveries.delay()  # its time was up with work left: the next one goes on
    return sent or 0


@shared_task(ignore_result=True)
def prune_deliveries() -> int:
    """Daily: finished deliveries older than the log's retention are deleted."""
    from webhooks import services

    return services.prune_deliveries()
