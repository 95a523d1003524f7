"""Capacity planning over the API:

- ``POST /installations/{id}/what-if/``: replay the installation's history with today's setup
  (validated against what history recorded) and with the changes in the body; owners and
  installers only (``Action.OPERATE`` through the tenancy gate: a driver, another tenant or a
  read-only token gets a 404).
- ``POST /what-if/new-site/``: the same report for a site without history, from a preset.
- ``GET /what-if/jobs/{token}/``: a run too large to wait for (more than
  ``PLANNING_MAX_CHARGERS`` chargers): both POSTs then answer 202 with the job's token and URL;
  a worker runs it (``planning.jobs``), and only the asker reads it, for an hour.

A change that cannot be simulated answers 400 with a message per field
(``planning.services.PlanningError``), at once, also for a large site.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from installations.models import Circuit, Installation
from planning import jobs, services
from planning.api.serializers import (
    JobSerializer,
    JobStartedSerializer,
    NewSiteSerializer,
    ReportSerializer,
    WhatIfSerializer,
)
from planning.presets import PresetName
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action


def _run(call: Any, *args: Any, start_job: Any, **kwargs: Any) -> Response:
    """The report (200), or the job a worker runs it in (202), or the 400."""
    try:
        report = call(*args, **kwargs)
    except services.PlanningError as error:
        raise serializers.ValidationError(
            {name or "non_field_errors": [message] for name, message in error.fields.items()}
        ) from None
    except services.TooLargeToWait:
        token = start_job()
        return Response(
            {
                "status": jobs.JobStatus.QUEUED.value,
                "job": token,
                "url": reverse("what-if-job", args=[token]),
            },
            status=status.HTTP_202_ACCEPTED,
        )
    return Response(report.as_dict())


class WhatIfViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A what-if on one installation's history."""

    queryset = Installation.objects.all()
    serializer_class = WhatIfSerializer
    tenant_actions = {"create": Action.OPERATE}

    @extend_schema(
        operation_id="installations_what_if_create",
        request=WhatIfSerializer,
        responses={200: ReportSerializer, 202: JobStartedSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replay the last ``days`` days of sessions through the balancing engine: today's setup
        (with the replay's energy against the recorded one) and the changed one, side by side."""
        installation = self.get_object()
        circuits = Circuit.objects.restrict(request.user, Action.OPERATE).filter(
            installation=installation
        )
        body = WhatIfSerializer(data=request.data, context={"circuits": circuits})
        body.is_valid(raise_exception=True)
        changes = services.changes_for(installation, body.validated_data)
        days = body.validated_data["days"]
        now = timezone.now()
        return _run(
            services.what_if,
            installation,
            request.user,
            changes,
            days=days,
            now=now,
            start_job=lambda: jobs.start_what_if(request.user, installation, changes, days, now),
        )


class NewSiteViewSet(viewsets.GenericViewSet):
    """The planner for a new site: no tenant data is read, any signed-in user may use it."""

    serializer_class = NewSiteSerializer

    @extend_schema(
        operation_id="what_if_new_site_create",
        request=NewSiteSerializer,
        responses={200: ReportSerializer, 202: JobStartedSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Replay a preset's visits (office, housing cooperative, fleet depot) on the site."""
        body = NewSiteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        plan = services.NewSite(
            preset=PresetName(data.pop("preset")),
            charger_phases=int(data.pop("charger_phases")),
            **data,
        )
        return _run(
            services.new_site, plan, start_job=lambda: jobs.start_new_site(request.user, plan)
        )


class JobViewSet(viewsets.GenericViewSet):
    """A planning run in the background, as its asker sees it (anyone else: 404)."""

    serializer_class = JobSerializer

    @extend_schema(operation_id="what_if_jobs_retrieve", responses={200: JobSerializer})
    def retrieve(self, request: Request, token: str = "", **kwargs: Any) -> Response:
        """``queued``, ``running``, ``done`` (with the report) or ``failed`` (with the
        messages per field)."""
        job = jobs.state(token, request.user)
        if job is None:
            raise NotFound("No such planning run.")
        report = job.get("report")
        return Response(
            {
                "status": job["status"],
                "report": report.as_dict() if report is not None else None,
                "error": job.get("error"),
            }
        )
