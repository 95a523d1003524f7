"""Read-only API of what chargers did: sessions, events, commands, refused connection attempts."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from chargers.models import ChargerEvent, ChargeSession
from commands.models import Command
from commands.serializers import CommandSerializer
from ocpp_bridge.api.serializers import (
    ChargerEventSerializer,
    ChargeSessionSerializer,
    ConnectionAttemptSerializer,
)
from ocpp_bridge.models import ConnectionAttempt
from portal.api.pagination import CursorOrPagePagination
from portal.api.viewsets import TenantReadOnlyViewSet
from reporting.api.params import check_visible


class ChargeSessionFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="charger__installation")
    charger = django_filters.NumberFilter(field_name="charger")
    user = django_filters.NumberFilter(field_name="user")
    card = django_filters.NumberFilter(field_name="card")
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = ChargeSession
        fields = [
            "installation",
            "charger",
            "user",
            "card",
            "status",
            "started_after",
            "started_before",
        ]

    def filter_queryset(self, queryset: QuerySet[ChargeSession]) -> QuerySet[ChargeSession]:
        """Another tenant's installation, charger, user or card is a 404 (reporting's rules)."""
        check_visible(self.request.user, queryset, self.form.cleaned_data)
        return super().filter_queryset(queryset)


# ``from`` (inclusive) and ``to`` (exclusive) on the start: ISO 8601 date-times ("from" is a
# Python keyword, so they are added after the class).
ChargeSessionFilter.base_filters["from"] = django_filters.IsoDateTimeFilter(
    field_name="started_at", lookup_expr="gte", label="Started at or after (inclusive)"
)
ChargeSessionFilter.base_filters["to"] = django_filters.IsoDateTimeFilter(
    field_name="started_at", lookup_expr="lt", label="Started before (exclusive)"
)


class SessionPagination(CursorOrPagePagination):
    ordering = ("-started_at", "-id")


class ChargeSessionViewSet(TenantReadOnlyViewSet):
    """Charge sessions (OCPP transactions). Drivers see their own, on every installation.

    Filters: ``installation``, ``charger``, ``user``, ``card``, ``status``, ``from`` (inclusive)
    and ``to`` (exclusive) on the start time. Paged by page number, or by cursor with
    ``?cursor=`` (newest first, no count, fast at any depth).
    """

    queryset = ChargeSession.objects.select_related("connector", "charger", "user")
    serializer_class = ChargeSessionSerializer
    filterset_class = ChargeSessionFilter
    ordering_fields = ["started_at", "energy_wh"]
    pagination_class = SessionPagination


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
