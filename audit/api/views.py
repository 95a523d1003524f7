"""The audit log, read-only, for owners and installers (``/api/v1/audit-log/``)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers

from audit.models import AuditEntry
from portal.api.pagination import CursorOrPagePagination
from portal.api.viewsets import TenantReadOnlyViewSet


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = [
            "id", "at", "installation", "installation_name", "actor", "actor_email", "via",
            "address", "action", "object_type", "object_id", "object_repr", "changes",
        ]  # fmt: skip
        read_only_fields = fields


class AuditFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["installation", "action", "object_type", "actor", "since", "before"]


class AuditPagination(CursorOrPagePagination):
    ordering = ("-at", "-id")


class AuditEntryViewSet(TenantReadOnlyViewSet):
    """Who changed what, when, from where: installations, circuits, chargers, access settings,
    members, permissions and cards, prices, webhooks, commands sent, API tokens. Newest first;
    ``changes`` maps a field to ``[before, after]`` (secrets only as changed)."""

    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter
    pagination_class = AuditPagination
