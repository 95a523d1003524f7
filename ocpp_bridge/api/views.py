"""Read-only API of what chargers did: sessions, events, commands, refused connection attempts."""

from __future__ import annotations

import django_filters

from chargers.models import ChargerEvent, ChargeSession
from ocpp_bridge.api.serializers import (
    ChargerEventSerializer,
    ChargeSessionSerializer,
    CommandSerializer,
    ConnectionAttemptSerializer,
)
from ocpp_bridge.models import Command, ConnectionAttempt
from portal.api.viewsets import TenantReadOnlyViewSet


class ChargeSessionFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="charger__installation")
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = ChargeSession
        fields = ["installation", "charger", "user", "status", "started_after", "started_before"]


class ChargeSessionViewSet(TenantReadOnlyViewSet):
    """Charge sessions (OCPP transactions). Drivers see their own, on every installation."""

    queryset = ChargeSession.objects.select_related("connector", "charger", "user")
    serializer_class = ChargeSessionSerializer
    filterset_class = ChargeSessionFilter
    ordering_fields = ["started_at", "energy_wh"]


class ChargerEventViewSet(TenantReadOnlyViewSet):
    """Connections, boots, status changes and faults reported by chargers."""

    queryset = ChargerEvent.objects.all()
    serializer_class = ChargerEventSerializer
    filterset_fields = ["charger", "kind"]


class CommandViewSet(TenantReadOnlyViewSet):
    """Commands sent to chargers and their answers; issue new ones at /chargers/{id}/commands/."""

    queryset = Command.objects.select_related("requested_by")
    serializer_class = CommandSerializer
    filterset_fields = ["charger", "status", "action"]


class ConnectionAttemptViewSet(TenantReadOnlyViewSet):
    """Refused connections: unknown chargers to claim, and wrong passwords of your own chargers."""

    queryset = ConnectionAttempt.objects.all()
    serializer_class = ConnectionAttemptSerializer
    filterset_fields = ["reason", "identity"]
