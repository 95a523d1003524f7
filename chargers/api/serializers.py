from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargers import services
from chargers.models import Charger, Connector
from commands.routing import LiveState, live_states
from installations.models import Circuit
from portal.api.fields import TenantPrimaryKeyRelatedField
from portal.api.serializers import ModelCleanMixin


class ConnectorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connector
        fields = ["connector_id", "status", "error_code", "status_updated_at"]
        read_only_fields = fields


class LiveStateSerializer(serializers.Serializer):
    online = serializers.BooleanField()
    last_seen = serializers.CharField(allow_null=True)
    current_a = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="L1, L2, L3"
    )
    power_w = serializers.FloatField(allow_null=True)
    energy_wh = serializers.FloatField(allow_null=True)
    soc_percent = serializers.FloatField(allow_null=True)
    connectors = serializers.DictField(
        child=serializers.CharField(), help_text="connector id -> OCPP status"
    )
    measured_at = serializers.DateTimeField(
        allow_null=True, help_text="When the currents were measured (the charger's clock)."
    )


class ChargerListSerializer(serializers.ListSerializer):
    """Fetch the live state of a whole page of chargers from Redis in one round trip."""

    def to_representation(self, data: Any) -> list[Any]:
        chargers = list(data.all() if hasattr(data, "all") else data)
        self.child.context["live_states"] = live_states([c.pk for c in chargers])
        return super().to_representation(chargers)


class ChargerSerializer(ModelCleanMixin, serializers.ModelSerializer):
    circuit = TenantPrimaryKeyRelatedField(
        queryset=Circuit.objects.all(), help_text="The fuse the charger is on."
    )
    connectors = ConnectorSerializer(many=True, read_only=True)
    live = serializers.SerializerMethodField(help_text="Latest state from the bridge (Redis).")
    connector_count = serializers.IntegerField(
        write_only=True, required=False, min_value=1, max_value=16, default=1,
        help_text="Number of connectors (plugs), when registering.",
    )  # fmt: skip

    class Meta:
        model = Charger
        fields = [
            "id", "installation", "circuit", "name", "ocpp_identity", "vendor", "model",
            "serial_number", "firmware_version", "phases", "phase_rotation", "min_current_a",
            "max_current_a", "priority", "can_switch_phases", "authorization_mode",
            "allocated_current_a", "allocated_phases", "is_online", "last_seen_at",
            "connectors", "live", "connector_count", "created_at",
        ]  # fmt: skip
        list_serializer_class = ChargerListSerializer
        read_only_fields = [
            "id", "installation", "vendor", "model", "serial_number", "firmware_version",
            "allocated_current_a", "allocated_phases", "is_online", "last_seen_at", "created_at",
        ]  # fmt: skip

    @extend_schema_field(LiveStateSerializer)
    def get_live(self, charger: Charger) -> dict[str, Any]:
        states = self.context.get("live_states")
        state = states.get(charger.pk) if states else live_states([charger.pk])[charger.pk]
        data = asdict(state) if state else asdict(LiveState())
        data.pop("node", None)
        return data

    def validate_circuit(self, circuit: Circuit) -> Circuit:
        if self.instance is not None and circuit.installation_id != self.instance.installation_id:
            raise serializers.ValidationError(
                "A charger cannot move to another installation's circuit."
            )
        return circuit

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        connector_count = attrs.pop("connector_count", 1)
        attrs = super().validate(attrs)
        attrs["connector_count"] = connector_count
        return attrs

    def prepare_instance_for_clean(self, instance: Charger, attrs: dict[str, Any]) -> None:
        if instance.installation_id is None and attrs.get("circuit") is not None:
            instance.installation = attrs["circuit"].installation

    def create(self, validated_data: dict[str, Any]) -> Charger:
        charger, password = services.register_charger(**validated_data)
        charger.ocpp_password = password  # type: ignore[attr-defined]  # shown once, in this response
        return charger

    def update(self, instance: Charger, validated_data: dict[str, Any]) -> Charger:
        validated_data.pop("connector_count", None)
        with transaction.atomic():
            return super().update(instance, validated_data)


class RegisteredChargerSerializer(ChargerSerializer):
    """The answer to registering a charger: the only time its OCPP password is shown."""

    ocpp_password = serializers.CharField(
        read_only=True, help_text="Shown once; only its hash is stored."
    )
    ocpp_url = serializers.SerializerMethodField()

    class Meta(ChargerSerializer.Meta):
        fields = [*ChargerSerializer.Meta.fields, "ocpp_password", "ocpp_url"]

    def get_ocpp_url(self, charger: Charger) -> str:
        return services.ocpp_url(charger)


class OcppCredentialsSerializer(serializers.Serializer):
    ocpp_identity = serializers.CharField(read_only=True)
    ocpp_password = serializers.CharField(read_only=True)
    ocpp_url = serializers.CharField(read_only=True)
