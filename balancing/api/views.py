"""Balancing over the API: an installation's live load, and the decisions the loop recorded."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import JSONField, QuerySet, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from balancing.api.serializers import (
    BalancingDecisionDetailSerializer,
    BalancingDecisionSerializer,
    LoadDashboardSerializer,
)
from balancing.dashboard import DEFAULT_DECISION_COUNT, load_dashboard
from balancing.models import BalancingDecision
from chargers.models import Charger
from installations.models import Circuit, Installation
from portal.api.viewsets import TenantReadOnlyViewSet, TenantViewSetMixin
from portal.tenancy import Action

MAX_DECISIONS = 50


def _result_list(key: str) -> Coalesce:
    """A list inside the decision's result, without loading the rest of it (allocations)."""
    return Coalesce(KeyTransform(key, "result"), Value([], output_field=JSONField()))


class BalancingDecisionFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="installation")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = BalancingDecision
        fields = ["installation", "trigger", "created_after", "created_before"]


class BalancingDecisionViewSet(TenantReadOnlyViewSet):
    """Every solve of the balancing loop, newest first: its trigger, duration, the number of
    limits sent and the engine's notes. One detail carries the full snapshot and answer."""

    queryset = BalancingDecision.objects.all()
    serializer_class = BalancingDecisionSerializer
    filterset_class = BalancingDecisionFilter
    ordering_fields = ["created_at", "solve_ms", "commands_sent"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = (
            super()
            .get_queryset()
            .annotate(
                result_notes=_result_list("notes"),
                result_paused=_result_list("paused"),
                result_finished=_result_list("finished"),
            )
        )
        if self.action == "list":
            queryset = queryset.defer("scenario", "result")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "retrieve":
            return BalancingDecisionDetailSerializer
        return BalancingDecisionSerializer


class InstallationLoadViewSet(
    TenantViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """``GET /installations/{id}/load/``: the installation's load now (the Load tab's data)."""

    queryset = Installation.objects.all()
    serializer_class = LoadDashboardSerializer

    @extend_schema(
        operation_id="installations_load_retrieve",
        parameters=[
            OpenApiParameter(
                "decisions",
                int,
                description=f"How many recent decisions to include (0-{MAX_DECISIONS}, "
                f"default {DEFAULT_DECISION_COUNT}).",
            )
        ],
        responses={200: LoadDashboardSerializer},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Per fuse and phase, the live load against the limit; per charger, its allocation,
        draw and state with the reason; and the latest balancing decisions with their notes.

        Drivers see the chargers they may use; fuses and decisions only owners and installers.
        """
        installation = self.get_object()
        user = request.user
        dashboard = load_dashboard(
            installation,
            circuits=Circuit.objects.restrict(user, Action.VIEW),
            chargers=Charger.objects.restrict(user, Action.VIEW),
            decisions=BalancingDecision.objects.restrict(user, Action.VIEW),
            decision_count=_decision_count(request),
        )
        return Response(LoadDashboardSerializer(dashboard).data)


def _decision_count(request: Request) -> int:
    raw = request.query_params.get("decisions", "")
    try:
        count = int(raw) if raw else DEFAULT_DECISION_COUNT
    except ValueError:
        raise serializers.ValidationError({"decisions": "A whole number, please."}) from None
    return max(0, min(MAX_DECISIONS, count))
