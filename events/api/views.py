"""Incidents in the API: read-only, plus acknowledge."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from events import incidents
from events.api.serializers import AcknowledgeSerializer, IncidentSerializer
from events.choices import IncidentKind
from events.models import Incident, IncidentCharger
from portal.api.viewsets import TenantReadOnlyViewSet
from portal.tenancy import Action


class IncidentFilter(django_filters.FilterSet):
    charger = django_filters.NumberFilter(field_name="members__charger", distinct=True)
    kind = django_filters.ChoiceFilter(choices=IncidentKind.choices)
    open = django_filters.BooleanFilter(field_name="ended_at", lookup_expr="isnull")

    class Meta:
        model = Incident
        fields = ["installation", "charger", "kind", "open"]


class IncidentViewSet(TenantReadOnlyViewSet):
    """Offline and fault incidents of your installations (owners and installers; drivers see
    none), newest first. Chargers of one installation that went offline or faulted together are
    one incident (``chargers``). ``?open=true`` lists those still going on."""

    queryset = Incident.objects.select_related("acknowledged_by").prefetch_related(
        Prefetch("members", queryset=IncidentCharger.objects.select_related("charger"))
    )
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter
    tenant_actions = {"acknowledge": Action.OPERATE}

    @extend_schema(request=AcknowledgeSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge the incident (who and when are recorded), with an optional ``note`` of
        at most 2,000 characters that replaces the note. 400 for a note that is not text."""
        serializer = AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = incidents.acknowledge(
            self.get_object(), request.user, serializer.validated_data.get("note")
        )
        return Response(IncidentSerializer(self._fresh(incident.pk)).data)

    def _fresh(self, pk: int) -> Incident:
        queryset: QuerySet[Incident] = self.get_queryset()
        return queryset.get(pk=pk)
