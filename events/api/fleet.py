"""``/api/v1/fleet/``: the fleet page's rows (``events.fleet``) for API clients."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, viewsets

from events import fleet
from installations.models import Installation
from portal.api.viewsets import TenantViewSetMixin


class FleetRowSerializer(serializers.ModelSerializer):
    """One installation's health: chargers by state, open incidents, the last contact."""

    chargers = serializers.IntegerField(source="fleet_chargers")
    online = serializers.IntegerField(source="fleet_online")
    offline = serializers.IntegerField(source="fleet_offline")
    faulted = serializers.IntegerField(source="fleet_faulted")
    charging = serializers.IntegerField(source="fleet_charging")
    last_contact = serializers.DateTimeField(source="fleet_last_contact", allow_null=True)
    open_incidents = serializers.IntegerField(source="fleet_open_incidents")
    unacknowledged_incidents = serializers.IntegerField(source="fleet_unacknowledged")
    oldest_open_incident_at = serializers.DateTimeField(
        source="fleet_oldest_incident_at", allow_null=True
    )

    class Meta:
        model = Installation
        fields = [
            "id", "name", "chargers", "online", "offline", "faulted", "charging",
            "last_contact", "open_incidents", "unacknowledged_incidents",
            "oldest_open_incident_at",
        ]  # fmt: skip
        read_only_fields = fields


class FleetFilter(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    problems = serializers.BooleanField(required=False, default=False)
    sort = serializers.ChoiceField(
        choices=fleet.FleetSort.choices, required=False, default=fleet.FleetSort.WORST
    )


class FleetViewSet(TenantViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The installations you own or install, worst first: chargers online, offline, faulted
    and charging, open incidents, the last contact. ``q`` searches names, ``problems=true``
    keeps those with a charger offline or faulted or an open incident, ``sort`` is ``worst``
    (default), ``name`` or ``offline``. Drivers get an empty list."""

    queryset = Installation.objects.all()
    serializer_class = FleetRowSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return Installation.objects.none()
        params = FleetFilter(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return fleet.fleet(
            self.request.user,
            query=params.validated_data.get("q", "").strip(),
            problems_only=params.validated_data["problems"],
            sort=params.validated_data["sort"],
        )
