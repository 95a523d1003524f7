"""Celery entry points of reporting."""

from __future__ import annotations

from celery import shared_task

from reporting import jobs, services

# A job whose database went away is tried this many more times, this many seconds apart (x n).
EXPORT_RETRIES = 3
EXPORT_RETRY_S = 30


@shared_task(name="reporting.tasks.apply_due_prices", ignore_result=True)
def apply_due_prices() -> int:
    """A scheduled price that has begun becomes the installation's current price."""
    return services.apply_due_prices()


@shared_task(
    bind=True, name="reporting.tasks.write_export", ignore_result=True, max_retries=EXPORT_RETRIES
)
def write_export(self: object, job_id: int) -> str | None:
    """Write a large export's file (``reporting.jobs.run``); a second delivery does nothing."""
    retries = self.request.retries  # type: ignore[attr-defined]
    try:
        status = jobs.run(job_id, final_attempt=retries >= EXPORT_RETRIES)
    except jobs.TransientError as error:
        raise self.retry(exc=error, countdown=EXPORT_RETRY_S * (retries + 1)) from error  # type: ignore[attr-defined]
    return status.value if status else None


@shared_task(name="reporting.tasks.expire_exports", ignore_result=True)
def expire_exports() -> int:
    """Hourly: delete export files past their day and mark the jobs expired."""
    return jobs.expire()
