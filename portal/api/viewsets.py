"""Base viewsets: every API view reaches the database through ``restrict(user, action)``.

The action follows the HTTP method (reads: view; writes: administer) unless a viewset says
otherwise in ``tenant_actions``. A viewset that builds its queryset without ``restrict`` fails loudly
(``UnscopedQueryError``) instead of serving it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import mixins, viewsets

from portal.tenancy import Action, TenantQuerySet, assert_restricted

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TenantViewSetMixin:
    """Scope ``queryset`` to the requesting user and the action at hand."""

    queryset: ClassVar[TenantQuerySet]
    # Overrides of the action for a viewset action name, e.g. {"start": Action.OPERATE}.
    tenant_actions: ClassVar[dict[str, Action]] = {}

    def required_action(self) -> Action:
        name = getattr(self, "action", None)
        if name in self.tenant_actions:
            return self.tenant_actions[name]
        return Action.VIEW if self.request.method in SAFE_METHODS else Action.ADMINISTER  # type: ignore[attr-defined]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.queryset.none()
        return self.queryset.restrict(self.request.user, self.required_action())  # type: ignore[attr-defined]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        assert_restricted(queryset)
        return super().filter_queryset(queryset)  # type: ignore[misc]


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    """Create, read, update, delete, all tenant-scoped. No PUT: partial updates only."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TenantListRetrieveDestroyViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    pass
