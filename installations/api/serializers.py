from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from installations import services
from installations.models import (
    MAX_AVAILABLE_CURRENT_A,
    Circuit,
    Installation,
    Invitation,
    Membership,
)
from portal.api.fields import TenantPrimaryKeyRelatedField
from portal.api.serializers import ModelCleanMixin


class InstallationSerializer(ModelCleanMixin, serializers.ModelSerializer):
    main_fuse_a = serializers.FloatField(
        write_only=True, required=False, min_value=1, max_value=4000,
        help_text="Main fuse rating per phase (A); required when creating an installation.",
    )  # fmt: skip
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Installation
        fields = [
            "id", "name", "address", "time_zone", "authorization_mode", "phases", "voltage_v",
            "network_type", "available_current_a", "available_current_valid_until",
            "failsafe_current_a", "max_phase_imbalance_a",
            "price_per_kwh", "currency", "main_fuse_a", "my_role", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "my_role", "available_current_valid_until"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["main_fuse_a"].required = self.instance is None  # required when creating only
        return fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_my_role(self, installation: Installation) -> str | None:
        request = self.context.get("request")
        role = installation.role_of(request.user) if request else None
        return role.value if role else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        main_fuse_a = attrs.pop("main_fuse_a", None)
        attrs = super().validate(attrs)
        if main_fuse_a is not None:
            attrs["main_fuse_a"] = main_fuse_a
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Installation:
        return services.create_installation(self.context["request"].user, **validated_data)

    def update(self, instance: Installation, validated_data: dict[str, Any]) -> Installation:
        main_fuse_a = validated_data.pop("main_fuse_a", None)
        with transaction.atomic():
            instance = super().update(instance, validated_data)
            if main_fuse_a is not None and instance.main_fuse is not None:
                main = instance.main_fuse
                main.max_current_a = main_fuse_a
                main.full_clean()
                main.save(update_fields=["max_current_a"])
        return instance


class CircuitSerializer(ModelCleanMixin, serializers.ModelSerializer):
    parent = TenantPrimaryKeyRelatedField(
        queryset=Circuit.objects.all(),
        help_text="The fuse above this one (the main fuse or a sub-circuit).",
    )

    class Meta:
        model = Circuit
        fields = ["id", "installation", "parent", "name", "max_current_a", "is_main_fuse"]
        read_only_fields = ["id", "installation", "is_main_fuse"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and getattr(self.instance, "is_main_fuse", False):
            fields["parent"].read_only = True  # the main fuse stays the root
        return fields

    def validate_parent(self, parent: Circuit) -> Circuit:
        if self.instance is not None and parent.installation_id != self.instance.installation_id:
            raise serializers.ValidationError("A circuit cannot move to another installation.")
        return parent

    def prepare_instance_for_clean(self, instance: Circuit, attrs: dict[str, Any]) -> None:
        if instance.installation_id is None and attrs.get("parent") is not None:
            instance.installation = attrs["parent"].installation

    def create(self, validated_data: dict[str, Any]) -> Circuit:
        validated_data["installation"] = validated_data["parent"].installation
        return super().create(validated_data)


class UserSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "installation", "user", "role", "may_charge_everywhere", "created_at"]
        read_only_fields = ["id", "installation", "user", "created_at"]

    def update(self, instance: Membership, validated_data: dict[str, Any]) -> Membership:
        actor = self.context["request"].user
        with transaction.atomic():
            if "role" in validated_data and validated_data["role"] != instance.role:
                services.change_role(actor, instance, validated_data["role"])
            if "may_charge_everywhere" in validated_data:
                services.check_may_manage(actor, instance.installation, instance.role)
                instance.may_charge_everywhere = validated_data["may_charge_everywhere"]
                instance.save(update_fields=["may_charge_everywhere"])
        return instance


class InvitationSerializer(serializers.ModelSerializer):
    installation = TenantPrimaryKeyRelatedField(queryset=Installation.objects.all())
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "installation",
            "email",
            "role",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "declined_at",
        ]
        read_only_fields = [
            "id", "invited_by", "created_at", "expires_at", "accepted_at", "declined_at",
        ]  # fmt: skip

    def create(self, validated_data: dict[str, Any]) -> Invitation:
        return services.invite(
            self.context["request"].user,
            validated_data["installation"],
            validated_data["email"],
            validated_data["role"],
        )


class PendingInvitationSerializer(serializers.ModelSerializer):
    """An invitation waiting for the requester's answer (``/api/v1/me/invitations/``); after
    a decline, with ``declined_at``."""

    installation_name = serializers.CharField(source="installation.name", read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id", "installation", "installation_name", "email", "role", "invited_by",
            "created_at", "expires_at", "declined_at",
        ]  # fmt: skip
        read_only_fields = fields


class AvailableCurrentSerializer(serializers.Serializer):
    """Live available current from a building meter or energy management system."""

    current_a = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=MAX_AVAILABLE_CURRENT_A),
        min_length=3,
        max_length=3,
        help_text="Amperes available per phase L1, L2, L3 (never more than the main fuse counts).",
    )
    valid_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="After this the main fuse alone applies again."
    )

    def validate_valid_until(self, value: Any) -> Any:
        from django.utils import timezone

        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The validity must end in the future.")
        return value
