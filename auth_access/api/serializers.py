from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User
from auth_access import services
from auth_access.models import (
    AccessPolicy,
    AuthorizationRecord,
    ChargeCard,
    ChargerPermission,
    LocalListState,
    RemoteStart,
    Reservation,
    SeenCard,
)
from chargers.models import Charger, ChargeSession
from commands.serializers import CommandSerializer
from installations.api.serializers import UserSummarySerializer
from installations.models import Installation, Membership
from portal.api.fields import TenantPrimaryKeyRelatedField
from portal.api.serializers import ModelCleanMixin
from portal.tenancy import Action


@extend_schema_field(OpenApiTypes.INT)
class ManageableUserField(serializers.PrimaryKeyRelatedField):
    """A user the requester may add cards for: themselves, or a member of an installation they run."""

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        if request is None:
            return User.objects.none()
        return services.users_manageable_by(request.user)


class ChargeCardSerializer(serializers.ModelSerializer):
    user = ManageableUserField(
        required=False,
        help_text="The holder (default: you). Owners and installers: a member of `installation`.",
    )
    installation = TenantPrimaryKeyRelatedField(
        queryset=Installation.objects.all(),
        required=False,
        allow_null=True,
        help_text=(
            "Register the card at this installation you run, for one of its members: it charges"
            " only there. Empty: your own card, valid wherever you may charge."
        ),
    )
    user_email = serializers.EmailField(source="user.email", read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = ChargeCard
        fields = [
            "id", "id_tag", "name", "user", "user_email", "installation", "is_blocked",
            "blocked_at", "expires_at", "created_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "blocked_at", "created_at", "updated_at"]
        extra_kwargs = {"id_tag": {"validators": []}}  # unique upper-case: the model's clean()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None:  # a card keeps its number and its holder
            fields["id_tag"].read_only = True
            fields["user"].read_only = True
            fields["installation"].read_only = True
        return fields

    def create(self, validated_data: dict[str, Any]) -> ChargeCard:
        actor = self.context["request"].user
        return services.add_card(
            actor,
            validated_data.pop("user", actor),
            validated_data.pop("id_tag"),
            **validated_data,
        )

    def update(self, instance: ChargeCard, validated_data: dict[str, Any]) -> ChargeCard:
        return services.update_card(self.context["request"].user, instance, validated_data)


class ChargerPermissionSerializer(serializers.ModelSerializer):
    membership = TenantPrimaryKeyRelatedField(
        queryset=Membership.objects.all(), help_text="The member who may charge."
    )
    charger = TenantPrimaryKeyRelatedField(queryset=Charger.objects.all())
    user = UserSummarySerializer(source="membership.user", read_only=True)
    installation = serializers.IntegerField(source="charger.installation_id", read_only=True)
    granted_by = serializers.EmailField(source="granted_by.email", read_only=True, default=None)

    class Meta:
        model = ChargerPermission
        fields = [
            "id", "installation", "membership", "user", "charger", "granted_by", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []  # granting twice is no error: the service is idempotent

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["membership"].installation_id != attrs["charger"].installation_id:
            raise serializers.ValidationError(
                {"charger": "The charger belongs to another installation than the membership."}
            )
        return attrs

    def create(self, validated_data: dict[str, Any]) -> ChargerPermission:
        return services.grant_charger(
            self.context["request"].user, validated_data["membership"], validated_data["charger"]
        )


class ChargingRightsSerializer(serializers.ModelSerializer):
    """A member's right to charge: on the whole installation, or on the chargers listed."""

    user = UserSummarySerializer(read_only=True)
    chargers = TenantPrimaryKeyRelatedField(
        queryset=Charger.objects.all(),
        many=True,
        required=False,
        help_text="Chargers named for this member (replaces the list when given).",
    )

    class Meta:
        model = Membership
        fields = ["id", "installation", "user", "role", "may_charge_everywhere", "chargers"]
        read_only_fields = ["id", "installation", "user", "role"]

    def to_representation(self, instance: Membership) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["chargers"] = sorted(p.charger_id for p in instance.charger_permissions.all())
        return data

    def validate_chargers(self, chargers: list[Charger]) -> list[Charger]:
        assert self.instance is not None
        if any(c.installation_id != self.instance.installation_id for c in chargers):
            raise serializers.ValidationError("Chargers of another installation.")
        return chargers

    def update(self, instance: Membership, validated_data: dict[str, Any]) -> Membership:
        actor = self.context["request"].user
        if "may_charge_everywhere" in validated_data:
            services.set_installation_wide(actor, instance, validated_data["may_charge_everywhere"])
        if "chargers" in validated_data:
            services.set_charger_permissions(actor, instance, validated_data["chargers"])
        return Membership.objects.prefetch_related("charger_permissions").get(pk=instance.pk)


class SeenCardSerializer(serializers.ModelSerializer):
    installation = serializers.IntegerField(source="charger.installation_id", read_only=True)
    charger_name = serializers.CharField(source="charger.name", read_only=True)

    class Meta:
        model = SeenCard
        fields = [
            "id", "installation", "charger", "charger_name", "id_tag", "first_seen_at",
            "last_seen_at", "times_seen",
        ]  # fmt: skip
        read_only_fields = fields


class AssignSeenCardSerializer(serializers.Serializer):
    user = ManageableUserField(help_text="A member of the installation the card was seen at.")
    name = serializers.CharField(max_length=60, required=False, default="", allow_blank=True)


class AuthorizationRecordSerializer(serializers.ModelSerializer):
    user_email = serializers.EmailField(source="user.email", read_only=True, default=None)

    class Meta:
        model = AuthorizationRecord
        fields = [
            "id", "created_at", "installation", "charger", "connector_id", "id_tag", "card",
            "user", "user_email", "trigger", "status", "reason", "source", "latency_ms",
        ]  # fmt: skip
        read_only_fields = fields


class AccessPolicySerializer(ModelCleanMixin, serializers.ModelSerializer):
    external_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        style={"input_type": "password"},
        help_text="Shared secret of the signatures (at least 16 characters). Never shown again.",
    )
    external_secret_set = serializers.SerializerMethodField()

    class Meta:
        model = AccessPolicy
        fields = [
            "installation", "running_session_policy", "external_enabled", "external_url",
            "external_secret", "external_secret_set", "external_deadline_ms", "external_fallback",
            "external_require_signed_reply", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["installation", "updated_at"]

    def get_external_secret_set(self, policy: AccessPolicy) -> bool:
        return bool(policy.external_secret)


class ExternalTestSerializer(serializers.Serializer):
    status = serializers.CharField(allow_null=True, help_text="The authorizer's status, or null.")
    error = serializers.CharField(allow_blank=True)
    latency_ms = serializers.FloatField()


class RemoteStartSerializer(serializers.ModelSerializer):
    command = CommandSerializer(read_only=True)

    class Meta:
        model = RemoteStart
        fields = [
            "id", "charger", "connector_id", "user", "status", "reason", "command", "session",
            "created_at", "expires_at",
        ]  # fmt: skip
        read_only_fields = fields


class RemoteStartRequestSerializer(serializers.Serializer):
    charger = TenantPrimaryKeyRelatedField(queryset=Charger.objects.all(), action=Action.VIEW)
    connector_id = serializers.IntegerField(min_value=1, max_value=16, default=1)
    wait_s = serializers.FloatField(
        required=False, default=0, min_value=0, max_value=30,
        help_text="Wait up to this long for the charger's answer (0: return at once).",
    )  # fmt: skip


class RemoteStopRequestSerializer(serializers.Serializer):
    session = TenantPrimaryKeyRelatedField(queryset=ChargeSession.objects.all(), action=Action.VIEW)
    wait_s = serializers.FloatField(required=False, default=0, min_value=0, max_value=30)


class LocalListStateSerializer(serializers.ModelSerializer):
    size = serializers.IntegerField(read_only=True)

    class Meta:
        model = LocalListState
        fields = [
            "id", "charger", "version", "status", "size", "charger_version", "last_error",
            "configuration", "configured_at", "synced_at",
        ]  # fmt: skip
        read_only_fields = fields


class LocalListSyncSerializer(serializers.Serializer):
    charger = TenantPrimaryKeyRelatedField(queryset=Charger.objects.all(), action=Action.OPERATE)
    configure = serializers.BooleanField(
        default=False, help_text="Send the authorization settings and ask the version first."
    )


class ReservationSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(
        read_only=True, allow_null=True, help_text="None: made by the upstream central system."
    )
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)
    reserve_command = CommandSerializer(read_only=True)
    cancel_command = CommandSerializer(read_only=True)

    class Meta:
        model = Reservation
        fields = [
            "id", "charger", "connector_id", "user", "card", "id_tag", "expires_at", "status",
            "charger_answer", "reason", "created_by", "created_at", "ended_at", "session",
            "reserve_command", "cancel_command", "parent_id_tag", "upstream_host",
            "upstream_reservation_id",
        ]  # fmt: skip
        read_only_fields = fields


class ReservationRequestSerializer(serializers.Serializer):
    """What ``reservations.reserve`` needs. ``user`` and ``card`` are looked up within the
    charger's installation only, so an id elsewhere says nothing about who or what it is."""

    charger = TenantPrimaryKeyRelatedField(queryset=Charger.objects.all(), action=Action.VIEW)
    connector_id = serializers.IntegerField(
        min_value=0, max_value=255, help_text="0: any connector (where the charger supports it)."
    )
    user = serializers.IntegerField(help_text="The driver: a member who may charge here.")
    card = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="A card registered for the driver at this installation; none: their app idTag.",
    )  # fmt: skip
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="Until when (at most 24 h ahead); default: duration_minutes from now.",
    )  # fmt: skip
    duration_minutes = serializers.IntegerField(
        required=False, default=30, min_value=1, max_value=24 * 60,
        help_text="Used when expires_at is not given.",
    )  # fmt: skip
    wait_s = serializers.FloatField(
        required=False, default=0, min_value=0, max_value=30,
        help_text="Wait up to this long for the charger's answer (0: return at once).",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        charger: Charger = attrs["charger"]
        membership = (
            Membership.objects.filter(
                installation_id=charger.installation_id, user_id=attrs["user"]
            )
            .select_related("user")
            .first()
        )
        if membership is None:
            raise serializers.ValidationError(
                {"user": f"Not a member of the installation of {charger.name}."}
            )
        attrs["user"] = membership.user
        if attrs["card"] is not None:
            card = ChargeCard.objects.filter(
                pk=attrs["card"], installation_id=charger.installation_id, user=membership.user
            ).first()
            if card is None:
                raise serializers.ValidationError(
                    {"card": "Choose a card registered for this driver at this installation."}
                )
            attrs["card"] = card
        if attrs["expires_at"] is None:
            attrs["expires_at"] = timezone.now() + timedelta(minutes=attrs["duration_minutes"])
        return attrs
