from __future__ import annotations

from typing import Any

from rest_framework import serializers

from chargers.models import ChargerEvent, ChargeSession
from ocpp_bridge.choices import CommandAction
from ocpp_bridge.models import Command, ConnectionAttempt
from ocpp_bridge.payloads import payload_errors


class CommandSerializer(serializers.ModelSerializer):
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True, default=None)

    class Meta:
        model = Command
        fields = [
            "id", "charger", "action", "payload", "status", "source", "requested_by", "created_at",
            "sent_at", "completed_at", "timeout_s", "response", "error",
        ]  # fmt: skip
        read_only_fields = fields


class CommandRequestSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=CommandAction.choices)
    payload = serializers.DictField(
        required=False, default=dict, help_text="The OCPP 1.6 request payload."
    )
    timeout_s = serializers.FloatField(required=False, default=30, min_value=1, max_value=300)
    wait_s = serializers.FloatField(
        required=False, default=0, min_value=0, max_value=30,
        help_text="Wait up to this long for the charger's answer before responding (0: return at once).",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = payload_errors(attrs["action"], attrs["payload"])
        if errors:
            raise serializers.ValidationError(
                {"payload": [f"{path}: {m}" for path, ms in errors.items() for m in ms]}
            )
        return attrs


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
