"""Large exports as jobs: a Celery worker writes the file, the user follows its progress, gets an
e-mail with the link, and the file is kept for ``REPORT_EXPORT_RETENTION_HOURS``.

An export (``Export``) is what a page or the API would send: a table, a file name stem, and a way
to count its rows. When it holds more than ``REPORT_EXPORT_SYNC_ROWS`` rows (counted with a
bound: ``count(limit)`` stops at ``limit + 1``), the view records an ``ExportJob`` instead of
streaming: which export (``Source``), the view's arguments and its validated filter parameters.
The worker (``run``) rebuilds the export *as the user who asked*, through the same view code and
so the same tenancy gate: a user who lost access by then gets a failed job, never the rows.

Safe to run twice: a job is claimed with a conditional update (queued, or running without a
sign of life for ``STALE_AFTER``), the file has one name per job (written again, never twice),
and the expiry sweep claims each job it expires the same way.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import IO, Any, Protocol

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework.exceptions import APIException, NotFound

from accounts.api_tokens import TokenScope
from reporting.exports import ExportFormat, Table, write_csv, write_xlsx
from reporting.models import ExportJob, ExportStatus
from reporting.tables import export_filename

logger = logging.getLogger(__name__)

# Progress is written every this many rows (one small UPDATE).
PROGRESS_EVERY_ROWS = 5000
# A running job without progress for this long has lost its worker: it may be claimed again.
STALE_AFTER = timedelta(minutes=15)


class Source(StrEnum):
    """Which export a job writes; each names the view that builds it (``export_for``)."""

    API = "api"
    HISTORY = "history"
    USAGE = "usage"
    MY_CHARGING = "my_charging"
    ACROSS = "across"


BUILDERS = {
    Source.API: "reporting.api.views.ExportViewSet",
    Source.HISTORY: "reporting.views.InstallationHistoryExportView",
    Source.USAGE: "reporting.views.InstallationUsageExportView",
    Source.MY_CHARGING: "reporting.views.MyChargingExportView",
    Source.ACROSS: "reporting.views.UsageAcrossExportView",
}


@dataclass
class Export:
    """What an export sends: the table (rows read lazily), the file name stem, its rows counted
    (``count(limit)``: at most ``limit + 1``; ``count(None)``: all), and what a job calls it."""

    table: Table
    stem: str
    count: Callable[[int | None], int]
    title: str = ""


class Builder(Protocol):
    @classmethod
    def export_for(
        cls, user: Any, arguments: dict[str, Any], parameters: dict[str, str]
    ) -> Export: ...


class ExportError(Exception):
    """An export that cannot be written (its message is shown to the user)."""


def count_rows(queryset: QuerySet[Any], limit: int | None) -> int:
    """The rows of ``queryset``, counting at most ``limit + 1`` (a bounded scan)."""
    if limit is None:
        return queryset.count()
    return queryset.order_by()[: limit + 1].count()


def is_large(export: Export) -> bool:
    limit = settings.REPORT_EXPORT_SYNC_ROWS
    return export.count(limit) > limit


def retention() -> timedelta:
    return timedelta(hours=settings.REPORT_EXPORT_RETENTION_HOURS)


def start(
    user: Any,
    source: Source,
    fmt: ExportFormat,
    *,
    arguments: dict[str, Any],
    parameters: dict[str, str],
    title: str,
) -> ExportJob:
    """Record the job and hand it to a worker once the transaction commits."""
    now = timezone.now()
    scope = getattr(user, "token_scope", None)  # an API token limited to some installations
    limited = scope is not None and scope.installation_ids is not None
    job = ExportJob.objects.create(
        token_installations=sorted(scope.installation_ids) if limited else None,
        requested_by=user,
        source=source.value,
        format=fmt.value,
        arguments=arguments,
        parameters=parameters,
        title=title[:200],
        created_at=now,
        expires_at=now + retention(),
    )
    transaction.on_commit(lambda: enqueue(job.pk))
    return job


def enqueue(job_id: int) -> None:
    """Hand the job to a worker; a broker that cannot take it fails the job with a message (the
    user sees it on the job's page) rather than the request."""
    from reporting.tasks import write_export

    try:
        write_export.delay(job_id)
    except Exception:  # kombu's errors vary with the transport
        logger.exception("export %s could not be queued", job_id)
        fail(job_id, "The export could not be started. Please try again in a moment.")


# ---------- the worker ----------


def claim(job_id: int, now: datetime | None = None) -> ExportJob | None:
    """The job, now running in this worker; None when another has it or it is finished."""
    now = now or timezone.now()
    claimable = Q(status=ExportStatus.QUEUED) | Q(
        status=ExportStatus.RUNNING, progress_at__lt=now - STALE_AFTER
    )
    claimed = (
        ExportJob.objects.filter(claimable, pk=job_id)
        .filter(expires_at__gt=now)
        .update(status=ExportStatus.RUNNING, started_at=now, progress_at=now, rows_done=0)
    )
    if not claimed:
        return None
    return ExportJob.objects.select_related("requested_by").get(pk=job_id)


def run(job_id: int, *, final_attempt: bool = True) -> ExportStatus | None:
    """Write the job's file (the task's body). Returns the job's status, None when not claimed.

    A database that went away is retried (the job goes back to the queue, ``TransientError``)
    unless this is the last attempt; anything else fails the job with a message.
    """
    job = claim(job_id)
    if job is None:
        return None
    try:
        name = _write(job)
    except ExportError as error:
        return fail(job.pk, str(error))
    except (OperationalError, InterfaceError) as error:
        if final_attempt:
            logger.warning("export %s: database unavailable, giving up: %s", job.pk, error)
            return fail(job.pk, "The database was unavailable; please start the export again.")
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.QUEUED
        )
        raise TransientError(str(error)) from error
    except Exception:
        logger.exception("export %s failed", job.pk)
        return fail(job.pk, "The export failed. Please try again, or narrow the filters.")
    now = timezone.now()
    done = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        file=name,
        finished_at=now,
        progress_at=now,
        expires_at=now + retention(),
    )
    if not done:  # expired or claimed again meanwhile: the file is not ours to keep
        default_storage.delete(name)
        return ExportStatus(ExportJob.objects.get(pk=job.pk).status)
    job.refresh_from_db()
    notify(job)
    return ExportStatus.DONE


class TransientError(Exception):
    """The job went back to the queue; the task retries it later."""


def fail(job_id: int, message: str) -> ExportStatus:
    ExportJob.objects.filter(pk=job_id).exclude(status=ExportStatus.EXPIRED).update(
        status=ExportStatus.FAILED, error=message, finished_at=timezone.now()
    )
    return ExportStatus.FAILED


def rebuild(job: ExportJob) -> Export:
    """The job's export, built again as the user who asked (the tenancy gate decides again)."""
    try:
        builder: Builder = import_string(BUILDERS[Source(job.source)])
    except (KeyError, ValueError):
        raise ExportError("This export is no longer available.") from None
    user = job.requested_by
    if job.token_installations is not None:  # within the token's installations, as asked
        user.token_scope = TokenScope(
            read_only=True, installation_ids=frozenset(job.token_installations)
        )
    try:
        return builder.export_for(user, job.arguments, job.parameters)
    except (Http404, PermissionDenied, NotFound):
        raise ExportError("You may no longer see what this export covers.") from None
    except (APIException, DjangoValidationError) as error:
        detail = getattr(error, "detail", None) or getattr(error, "messages", error)
        raise ExportError(f"The filters are no longer valid: {detail}") from None


def _write(job: ExportJob) -> str:
    """Write the file under the job's own name (replacing a half-written one); its name."""
    export = rebuild(job)
    total = export.count(None)
    ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
    table = replace(export.table, rows=with_progress(export.table.rows, job.pk))
    fmt = ExportFormat(job.format)
    filename = export_filename(export.stem, fmt.value)
    with tempfile.TemporaryFile() as out:
        write_file(table, fmt, out)
        out.seek(0)
        name = f"exports/{job.pk}/{filename}"
        for stale in _files_of(job.pk):
            default_storage.delete(stale)
        saved = default_storage.save(name, File(out, name=filename))
    ExportJob.objects.filter(pk=job.pk).update(filename=filename)
    return saved


def _files_of(job_id: int) -> list[str]:
    folder = f"exports/{job_id}"
    try:
        return [f"{folder}/{name}" for name in default_storage.listdir(folder)[1]]
    except FileNotFoundError:
        return []


def write_file(table: Table, fmt: ExportFormat, out: IO[bytes]) -> None:
    if fmt == ExportFormat.CSV:
        for chunk in write_csv(table):
            out.write(chunk.encode())
    else:
        write_xlsx(table, out)


def with_progress(rows: Iterable[list[Any]], job_id: int) -> Iterator[list[Any]]:
    """The rows, telling the job how many have been written every ``PROGRESS_EVERY_ROWS``."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % PROGRESS_EVERY_ROWS == 0:
            ExportJob.objects.filter(pk=job_id).update(rows_done=done, progress_at=timezone.now())
    ExportJob.objects.filter(pk=job_id).update(rows_done=done, progress_at=timezone.now())


# ---------- the e-mail ----------


def job_url(job: ExportJob) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("reporting:export_job", args=[job.pk])


def notify(job: ExportJob) -> bool:
    """E-mail the user the link to a finished export, at their address if it is verified."""
    user = job.requested_by
    verified = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True)
    if not user.email or not verified.exists():
        return False
    context = {"job": job, "url": job_url(job), "user": user}
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Your export is ready: {job.filename}",
        body=render_to_string("reporting/email/export_ready.txt", context),
        to=[user.email],
    )
    message.attach_alternative(
        render_to_string("reporting/email/export_ready.html", context), "text/html"
    )
    try:
        message.send()
    except (OSError, DatabaseError) as error:  # the file is there either way
        logger.warning("export %s: the e-mail could not be sent: %s", job.pk, error)
        return False
    return True


# ---------- expiry ----------


def expire(now: datetime | None = None) -> int:
    """Delete the files of jobs past their expiry and mark them expired (a job still running
    then keeps no file). Safe to run twice (each job is claimed by a conditional update)."""
    now = now or timezone.now()
    expired = 0
    due = ExportJob.objects.filter(expires_at__lte=now).exclude(status=ExportStatus.EXPIRED)
    for job_id, status in due.values_list("pk", "status"):
        claimed = ExportJob.objects.filter(pk=job_id, status=status).update(
            status=ExportStatus.EXPIRED, file=""
        )
        if claimed:
            for name in _files_of(job_id):
                default_storage.delete(name)
            expired += 1
    return expired
