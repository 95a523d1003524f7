"""Serializer fields that only accept objects the requesting user may administer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal.tenancy import Action


class TenantPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id, looked up through the tenancy gate: another tenant's id is 'not found'."""

    def __init__(self, action: Action = Action.ADMINISTER, **kwargs: Any) -> None:
        self.tenant_action = action
        super().__init__(**kwargs)

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        queryset = super().get_queryset()
        if request is None:
            return queryset.none()
        return queryset.restrict(request.user, self.tenant_action)
