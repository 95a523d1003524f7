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


@shared_task(
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=60,
    retry_backoff_max=3600,
    max_retries=12,
)
def email_owners_disabled(endpoint_id: int) -> int:
    """The e-mail that an endpoint was disabled, when the first try failed (mail server down)."""
    from webhooks import sender
    from webhooks.models import Endpoint

    if not Endpoint.objects.filter(pk=endpoint_id).exists():
        return 0  # deleted meanwhile: nothing left to tell
    return sender.send_disabled_email(endpoint_id)
