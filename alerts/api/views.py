"""``/api/v1/alert-subscriptions/``: the requesting user's own e-mail alert subscriptions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from alerts import services
from alerts.api.serializers import SubscriptionSerializer
from alerts.models import Subscription
from portal.api.viewsets import TenantModelViewSet


class SubscriptionViewSet(TenantModelViewSet):
    """Your alert subscriptions, one per installation you are a member of (listing makes the
    missing ones from your role's defaults: owners and installers faults and offline, drivers
    nothing). Another user's subscription, or one at an installation you are not a member of,
    is not found."""

    queryset = Subscription.objects.select_related("installation").prefetch_related(
        "muted_chargers"
    )
    serializer_class = SubscriptionSerializer
    filterset_fields = ["installation", "enabled"]
    ordering_fields = ["id"]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        if self.action == "list":
            services.ensure_subscriptions(self.request.user)
        return queryset.filter(user=self.request.user)  # a superuser's too: only their own
