"""Celery entry points of the bridge's periodic sweeps; thin wrappers over services."""

from __future__ import annotations

from celery import shared_task

from commands import routing
from ocpp_bridge import sweeps


@shared_task(ignore_result=True)
def expire_commands() -> int:
    """Pending or sent commands past their timeout become timed out."""
    return routing.expire_commands()


@shared_task(ignore_result=True)
def detect_offline_chargers() -> int:
    """Chargers the database believes online but no bridge node holds are marked offline."""
    return sweeps.mark_vanished_chargers_offline()


@shared_task(ignore_result=True)
def close_offline_sessions() -> int:
    """Sessions of chargers offline past SESSION_OFFLINE_CLOSE_MINUTES are closed (inferred)."""
    return sweeps.close_sessions_of_offline_chargers()
