"""Serializers of the webhooks API: endpoints (the secret only when made), deliveries."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from installations.models import Installation
from portal.api.fields import TenantPrimaryKeyRelatedField
from portal.api.serializers import ModelCleanMixin
from webhooks import services
from webhooks.choices import DeliveryStatus
from webhooks.models import Delivery, Endpoint


class EndpointSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """A webhook endpoint of an installation you administer. ``event_types``: the catalogue's
    types to send (docs/events.md); empty: every type. The URL must pass the SSRF guard
    (https, public addresses); it is checked again at every send."""

    installation = TenantPrimaryKeyRelatedField(queryset=Installation.objects.all())
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, allow_empty=True
    )
    created_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = Endpoint
        fields = [
            "id", "installation", "url", "description", "event_types", "enabled",
            "disabled_reason", "created_by", "created_at",
        ]  # fmt: skip
        read_only_fields = ["disabled_reason", "created_at"]

    def validate_installation(self, installation: Installation) -> Installation:
        if self.instance is not None and installation.pk != self.instance.installation_id:
            raise serializers.ValidationError("An endpoint cannot move to another installation.")
        return installation

    def validate_event_types(self, types: list[str]) -> list[str]:
        return sorted(set(types))

    def create(self, validated_data: dict[str, Any]) -> Endpoint:
        enabled = validated_data.pop("enabled", True)
        endpoint = services.create_endpoint(
            validated_data.pop("installation"),
            user=self.context["request"].user,
            **validated_data,
        )
        if not enabled:
            services.set_enabled(endpoint, False, self.context["request"].user)
        return endpoint

    def update(self, instance: Endpoint, validated_data: dict[str, Any]) -> Endpoint:
        enabled = validated_data.pop("enabled", None)
        instance = super().update(instance, validated_data)
        if enabled is not None and enabled != instance.enabled:
            services.set_enabled(instance, enabled, self.context["request"].user)
        return instance


class CreatedEndpointSerializer(EndpointSerializer):
    """The answer to creating an endpoint: the only time (with rotation) its secret is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="whsec_ + base64; shown once. Verify signatures with it."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(read_only=True, help_text="The new secret, shown this once.")


class DeliverySerializer(serializers.ModelSerializer):
    """One delivery of an event (or test message) to an endpoint, and its last attempt."""

    webhook_id = serializers.CharField(source="message_id", read_only=True)
    event = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id", "webhook_id", "event", "event_type", "status", "attempts", "next_attempt_at",
            "last_attempt_at", "response_code", "last_error", "response_excerpt", "duration_ms",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
