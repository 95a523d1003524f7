"""Serializer helpers shared by the apps' APIs."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers


class ModelCleanMixin:
    """Run the model's ``clean()`` on the would-be instance, so API and forms share one set of rules."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)  # type: ignore[misc]
        instance = self.instance or self.Meta.model()  # type: ignore[attr-defined]
        originals = {key: getattr(instance, key, None) for key in attrs}
        for key, value in attrs.items():
            setattr(instance, key, value)
        self.prepare_instance_for_clean(instance, attrs)
        try:
            instance.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                error.message_dict
                if hasattr(error, "error_dict")
                else {"non_field_errors": error.messages}
            ) from None
        finally:
            if self.instance is not None:  # do not leave half-applied changes on a shared instance
                for key, value in originals.items():
                    setattr(instance, key, value)
        return attrs

    def prepare_instance_for_clean(self, instance: Any, attrs: dict[str, Any]) -> None:
        """Hook: fill derived fields (such as the installation) before ``clean()`` runs."""
