"""Planning runs too large to wait for (``services.TooLargeToWait``), done by a Celery worker.

A job lives in the cache (Redis) for ``JOB_TTL_S``: who asked, what (a what-if on an
installation, or a new site, with its arguments), its status and, when done, the report itself
(or the error per field). Nothing is written to the database: a report is a computation, and an
hour is long enough to read and export it. The worker runs the same service as the page, with
the asker's rights at that moment (the tenancy gate again: a member who lost the installation
meanwhile gets a failed job, never its data). ``claim`` is an atomic ``cache.add``, so a task
delivered twice runs once.

Only the asker reads a job (``state``): anyone else, and the asker once they may no longer plan
that installation, gets None (a 404).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction

from installations.models import Installation
from planning import services
from planning.changes import Changes
from planning.presets import PresetName
from portal.tenancy import Action

logger = logging.getLogger(__name__)
JOB_TTL_S = 3600


class JobKind(StrEnum):
    WHAT_IF = "what_if"
    NEW_SITE = "new_site"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _key(token: str) -> str:
    return f"planning:job:{token}"


def start_what_if(
    user: Any, installation: Installation, changes: Changes, days: int, now: datetime
) -> str:
    """Queue a what-if; its token."""
    arguments = {
        "installation": installation.pk,
        "changes": dataclasses.asdict(changes),
        "days": days,
        "now": now,
    }
    return _start(user, JobKind.WHAT_IF, arguments, installation.pk)


def start_new_site(user: Any, plan: services.NewSite) -> str:
    return _start(user, JobKind.NEW_SITE, {"plan": dataclasses.asdict(plan)}, None)


def _start(user: Any, kind: JobKind, arguments: dict[str, Any], installation_id: int | None) -> str:
    token = secrets.token_urlsafe(18)
    cache.set(
        _key(token),
        {
            "user": user.pk,
            "kind": kind.value,
            "installation": installation_id,
            "arguments": arguments,
            "status": JobStatus.QUEUED.value,
        },
        JOB_TTL_S,
    )
    transaction.on_commit(lambda: enqueue(token))
    return token


def enqueue(token: str) -> None:
    """Hand the job to a worker; a broker that cannot take it fails the job with a message."""
    from planning.tasks import run_job

    try:
        run_job.delay(token)
    except Exception:  # kombu's errors vary with the transport
        logger.exception("planning job %s could not be queued", token)
        _finish(token, JobStatus.FAILED, error={"": "The run could not be started. Try again."})


def state(token: str, user: Any) -> dict[str, Any] | None:
    """The job as its asker may see it; None for anyone else (or a job gone or expired)."""
    job = cache.get(_key(token))
    if not isinstance(job, dict) or job.get("user") != user.pk:
        return None
    if job["installation"] is not None and not _may_plan(user, job["installation"]):
        return None
    return job


def _may_plan(user: Any, installation_id: int) -> bool:
    return Installation.objects.restrict(user, Action.OPERATE).filter(pk=installation_id).exists()


def run(token: str) -> JobStatus | None:
    """Run the job (in the worker); None when it is gone or another delivery has it."""
    job = cache.get(_key(token))
    if not isinstance(job, dict) or not cache.add(f"{_key(token)}:claimed", 1, JOB_TTL_S):
        return None
    _update(token, status=JobStatus.RUNNING.value)
    user = get_user_model().objects.filter(pk=job["user"], is_active=True).first()
    arguments = job["arguments"]
    try:
        if user is None:
            raise services.PlanningError({"": "The account that asked is gone."})
        if job["kind"] == JobKind.WHAT_IF:
            installation = (
                Installation.objects.restrict(user, Action.OPERATE)
                .filter(pk=arguments["installation"])
                .first()
            )
            if installation is None:
                raise services.PlanningError({"": "You may no longer plan this installation."})
            report = services.what_if(
                installation,
                user,
                Changes(**arguments["changes"]),
                days=arguments["days"],
                now=arguments["now"],
                inline=False,
            )
        else:
            plan = dict(arguments["plan"])
            plan["preset"] = PresetName(plan["preset"])
            report = services.new_site(services.NewSite(**plan), inline=False)
    except services.PlanningError as error:
        _finish(token, JobStatus.FAILED, error=error.fields)
        return JobStatus.FAILED
    except Exception:
        logger.exception("planning job %s failed", token)
        _finish(token, JobStatus.FAILED, error={"": "The run failed. Please try again."})
        return JobStatus.FAILED
    _finish(token, JobStatus.DONE, report=report)
    return JobStatus.DONE


def _update(token: str, **fields: Any) -> None:
    job = cache.get(_key(token))
    if isinstance(job, dict):
        cache.set(_key(token), {**job, **fields}, JOB_TTL_S)


def _finish(
    token: str,
    status: JobStatus,
    *,
    report: services.Report | None = None,
    error: dict[str, str] | None = None,
) -> None:
    _update(token, status=status.value, report=report, error=error)
