"""Celery entry points of reporting."""

from __future__ import annotations

from celery import shared_task

from reporting import services


@shared_task(name="reporting.tasks.apply_due_prices", ignore_result=True)
def apply_due_prices() -> int:
    """A scheduled price that has begun becomes the installation's current price."""
    return services.apply_due_prices()
