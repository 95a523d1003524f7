"""Capacity planning over the API:

- ``POST /installations/{id}/what-if/``: replay the installation's history with today's setup
  (validated against what history recorded) and with the changes in the body; owners and
  installers only (``Action.OPERATE`` through the tenancy gate: a driver, another tenant or a
  read-only token gets a 404).
- ``POST /what-if/new-site/``: the same report for a site without history, from a preset.

Nothing is stored: the answer is the report. A change that cannot be simulated answers 400 with
a message per field (``planning.services.PlanningError``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from installations.models import Circuit, Installation
from planning import services
from planning.api.serializers import NewSiteSerializer, ReportSerializer, WhatIfSerializer
from planning.presets import PresetName
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action


def _run(call: Any, *args: Any, **kwargs: Any) -> services.Report:
    try:
        return call(*args, **kwargs)  # type: ignore[no-any-return]
    except services.PlanningError as error:
        raise serializers.ValidationError(
            {name: [message] for name, message in error.fields.items()}
        ) from None


class WhatIfViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A what-if on one installation's history."""

    queryset = Installation.objects.all()
    serializer_class = WhatIfSerializer
    tenant_actions = {"create": Action.OPERATE}

    @extend_schema(
        operation_id="installations_what_if_create",
        request=WhatIfSerializer,
        responses={200: ReportSerializer},
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
        report = _run(
            services.what_if,
            installation,
            request.user,
            changes,
            days=body.validated_data["days"],
        )
        return Response(report.as_dict())


class NewSiteViewSet(viewsets.GenericViewSet):
    """The planner for a new site: no tenant data is read, any signed-in user may use it."""

    serializer_class = NewSiteSerializer

    @extend_schema(
        operation_id="what_if_new_site_create",
        request=NewSiteSerializer,
        responses={200: ReportSerializer},
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
        report = _run(services.new_site, plan)
        return Response(report.as_dict())
