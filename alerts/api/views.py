"""``/api/v1/alert-subscriptions/``: the requesting user's own e-mail alert subscriptions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from alerts import services
from alerts.api.serializers import SubscriptionSerializer
from alerts.models import Subscription
from portal.api.viewsets import TenantModelViewSet


class SubscriptionViewSet(TenantModelViewSet):
    """Your alert subscriptions, one per installation you are a member of (listing makes the
    missing ones from your role's defaults: owners and installers faults, offline and overloads,
    drivers nothing; with a read-only token they are listed unsaved, ``id`` null). Another
    user's subscription, or one at an installation you are not a member of, is not found."""

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
        if self.action == "list" and not self._read_only():
            services.ensure_subscriptions(self.request.user)
        return queryset.filter(user=self.request.user)  # a superuser's too: only their own

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A read-only token writes nothing: the subscriptions not made yet are listed as the
        role's defaults, unsaved (``id`` null), after the saved ones."""
        if not self._read_only():
            return super().list(request, *args, **kwargs)
        saved = list(self.filter_queryset(self.get_queryset()))
        rows: list[Any] = [*saved, *self._defaults(request)]
        page = self.paginate_queryset(rows)
        shown = page if page is not None else rows
        data = [
            self.get_serializer(row).data if row.pk else SubscriptionSerializer.unsaved(row)
            for row in shown
        ]
        return self.get_paginated_response(data) if page is not None else Response(data)

    def _read_only(self) -> bool:
        scope = getattr(self.request.user, "token_scope", None)
        return bool(scope is not None and scope.read_only)

    def _defaults(self, request: Request) -> list[Subscription]:
        """The unsaved defaults, with the token's installations and the list's filters."""
        scope = request.user.token_scope  # type: ignore[union-attr]
        installation = request.query_params.get("installation")
        enabled = request.query_params.get("enabled")
        return [
            sub
            for sub in services.missing_subscriptions(request.user)
            if scope.installation_ids is None or sub.installation_id in scope.installation_ids
            if installation is None or str(sub.installation_id) == installation
            if enabled is None or enabled.lower() in ("true", "1")
        ]
