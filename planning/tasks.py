"""Celery entry points of planning."""

from __future__ import annotations

from celery import shared_task

from planning import jobs


@shared_task(name="planning.tasks.run_job", ignore_result=True)
def run_job(token: str) -> str | None:
    """A planning run too large to wait for (``planning.jobs.run``); a second delivery does
    nothing."""
    status = jobs.run(token)
    return status.value if status else None
