"""The command record and a command request, as the API shows and takes them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from commands.choices import CommandAction
from commands.models import Command
from commands.payloads import payload_errors
from commands.secrets import mask_change


def mask_id_tag(id_tag: str) -> str:
    """An idTag as a command log shows it: the last four characters, the rest as asterisks."""
    return "*" * max(0, len(id_tag) - 4) + id_tag[-4:]


def shown_payload(action: str, payload: Any) -> Any:
    """A command's payload as people see it: the idTags of a Local Authorization List masked,
    and the value of a secret configuration key (``commands.secrets``).

    The list carries the cards of every member who may charge there, including cards they
    registered themselves or at other installations; the installation's owner must not read
    their numbers from the command log (the charger needs them, people do not)."""
    if action == CommandAction.CHANGE_CONFIGURATION:
        return mask_change(payload)
    if action != CommandAction.SEND_LOCAL_LIST or not isinstance(payload, dict):
        return payload
    entries = payload.get("localAuthorizationList")
    if not isinstance(entries, list):
        return payload
    masked = [
        {**entry, "idTag": mask_id_tag(str(entry["idTag"]))}
        if isinstance(entry, dict) and "idTag" in entry
        else entry
        for entry in entries
    ]
    return {**payload, "localAuthorizationList": masked}


class CommandSerializer(serializers.ModelSerializer):
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True, default=None)
    payload = serializers.SerializerMethodField(
        help_text="The OCPP request (local list idTags and secret configuration values masked)."
    )

    class Meta:
        model = Command
        fields = [
            "id", "charger", "action", "payload", "status", "source", "requested_by", "created_at",
            "sent_at", "completed_at", "timeout_s", "response", "error",
        ]  # fmt: skip
        read_only_fields = fields

    def get_payload(self, command: Command) -> dict[str, Any]:
        return shown_payload(command.action, command.payload)


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
