"""Serializer of the alert subscriptions API: the user's own subscriptions."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.choices import AlertKind
from alerts.models import Subscription
from chargers.models import Charger
from installations.models import Installation
from portal.api.fields import TenantPrimaryKeyRelatedField
from portal.api.serializers import ModelCleanMixin
from portal.tenancy import Action


class SubscriptionSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """Your alerts at one installation you are a member of. ``kinds``: ``fault``, ``offline``,
    ``overload`` (incidents opened and recovered), ``session_finished``, ``session_interrupted`` (your own
    sessions); ``muted_chargers``: chargers of that installation; ``offline_threshold_minutes``:
    1-1440; ``delivery``: ``immediate`` or ``digest``."""

    installation = TenantPrimaryKeyRelatedField(
        action=Action.VIEW, queryset=Installation.objects.all()
    )
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=AlertKind.choices), required=False, allow_empty=True
    )
    muted_chargers = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Charger.objects.all()
    )

    class Meta:
        model = Subscription
        fields = [
            "id", "installation", "enabled", "kinds", "muted_chargers",
            "offline_threshold_minutes", "delivery", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        validators: list[Any] = []  # the one-per-installation rule answers below, by name

    @staticmethod
    def unsaved(subscription: Subscription) -> dict[str, Any]:
        """The representation of a role's defaults not saved yet (no id, no muted chargers)."""
        return {
            "id": None,
            "installation": subscription.installation_id,
            "enabled": subscription.enabled,
            "kinds": list(subscription.kinds),
            "muted_chargers": [],
            "offline_threshold_minutes": subscription.offline_threshold_minutes,
            "delivery": subscription.delivery,
            "created_at": None,
            "updated_at": None,
        }

    def validate_installation(self, installation: Installation) -> Installation:
        user = self.context["request"].user
        if self.instance is not None and installation.pk != self.instance.installation_id:
            raise serializers.ValidationError("A subscription cannot move to another installation.")
        if not installation.memberships.filter(user=user).exists():
            raise serializers.ValidationError("You are not a member of this installation.")
        if (
            self.instance is None
            and Subscription.objects.filter(user=user, installation=installation).exists()
        ):
            raise serializers.ValidationError(
                "You have a subscription for this installation already: change it instead."
            )
        return installation

    def validate_kinds(self, kinds: list[str]) -> list[str]:
        return sorted(set(kinds))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        installation = attrs.get("installation") or getattr(self.instance, "installation", None)
        muted = attrs.get("muted_chargers") or []
        wrong = [
            c.pk for c in muted if installation is None or c.installation_id != installation.pk
        ]
        if wrong:
            raise serializers.ValidationError(
                {"muted_chargers": f"Not chargers of this installation: {wrong}."}
            )
        muted_value = attrs.pop("muted_chargers", None)
        attrs = super().validate(attrs)
        if muted_value is not None:
            attrs["muted_chargers"] = muted_value
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Subscription:
        validated_data["user"] = self.context["request"].user
        return super().create(validated_data)
