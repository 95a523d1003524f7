from __future__ import annotations

from rest_framework import serializers

from chargers.models import ChargerEvent, ChargeSession
from ocpp_bridge.models import ConnectionAttempt


class ChargeSessionSerializer(serializers.ModelSerializer):
    connector_id = serializers.IntegerField(source="connector.connector_id", read_only=True)
    installation = serializers.IntegerField(source="charger.installation_id", read_only=True)
    user_email = serializers.EmailField(source="user.email", read_only=True, default=None)
    connected_seconds = serializers.IntegerField(read_only=True)

    class Meta:
        model = ChargeSession
        fields = [
            "id", "installation", "charger", "connector_id", "id_tag", "user", "user_email", "card",
            "status", "started_at", "stopped_at", "meter_start_wh", "meter_stop_wh", "energy_wh",
            "stop_reason", "connected_seconds", "charging_seconds",
        ]  # fmt: skip
        read_only_fields = fields


class ChargerEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChargerEvent
        fields = ["id", "charger", "connector_id", "kind", "timestamp", "summary", "data"]
        read_only_fields = fields


class ConnectionAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConnectionAttempt
        fields = [
            "id",
            "identity",
            "reason",
            "remote_address",
            "first_seen_at",
            "last_seen_at",
            "attempts",
        ]
        read_only_fields = fields
