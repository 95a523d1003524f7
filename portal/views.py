"""Base classes for the web UI's views: every page reaches tenant data through ``restrict``.

``TenantMixin`` gives ``get_queryset()`` scoped to the user and the view's ``required_action``,
and ``get_object()`` from that queryset, so another tenant's object is a 404 exactly like a
missing one. ``restricted(Model, action)`` is the helper for any other query a view makes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import Model, QuerySet

from portal.tenancy import Action, assert_restricted


class TenantMixin(LoginRequiredMixin):
    """Scope the view's model to what the user may ``required_action``."""

    model: ClassVar[type[Model]]
    required_action: ClassVar[Action] = Action.VIEW

    def restricted(self, model: type[Model], action: Action | None = None) -> QuerySet[Any]:
        return model.objects.restrict(self.request.user, action or self.required_action)  # type: ignore[attr-defined]

    def get_queryset(self) -> QuerySet[Any]:
        queryset = self.restricted(self.model)
        return self.scope_queryset(queryset)

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Hook for select_related / ordering; must return a queryset derived from the argument."""
        return queryset

    def get_object(self, queryset: QuerySet[Any] | None = None) -> Any:
        queryset = self.get_queryset() if queryset is None else queryset
        assert_restricted(queryset)
        return super().get_object(queryset)  # type: ignore[misc]

    @property
    def search_query(self) -> str:
        """The page's search (``?q=``), trimmed; without NUL characters, which no text column
        holds (PostgreSQL would refuse the query)."""
        return self.request.GET.get("q", "").replace("\x00", "").strip()  # type: ignore[attr-defined,no-any-return]
