"""The command record and a command request, as the API shows and takes them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from commands.choices import CommandAction
from commands.models import Command
from commands.payloads import payload_errors


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
