"""Celery entry points of the events app; thin wrappers over ``events.consumers``."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def run_consumers() -> int:
    """Every registered consumer reads what is new for it (beat, and woken after commits)."""
    from events import consumers

    return consumers.run_all()


@shared_task(ignore_result=True)
def prune() -> int:
    """Daily: events past EVENTS_RETENTION_DAYS that every consumer has passed are deleted."""
    from events import consumers

    return consumers.prune()


@shared_task(ignore_result=True)
def detect_offline() -> int:
    """Chargers disconnected longer than EVENTS_OFFLINE_GRACE_S get their charger.offline."""
    from events import health

    return health.emit_offline_after_grace()
