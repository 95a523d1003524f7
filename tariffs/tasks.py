"""Celery entry points of tariffs."""

from __future__ import annotations

from celery import shared_task

from tariffs import costing


@shared_task(name="tariffs.tasks.price_finished_sessions", ignore_result=True)
def price_finished_sessions() -> int:
    """Every minute: the cost of sessions that ended, slot by slot (``tariffs.costing``)."""
    return costing.price_finished()
