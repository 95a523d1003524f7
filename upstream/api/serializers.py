"""Serializers of the upstream API: settings (the password write-only), status, test result."""

from __future__ import annotations

from rest_framework import serializers

from upstream.choices import LinkState, UpstreamCommand
from upstream.models import UpstreamSettings
from upstream.probe import ProbeOutcome

WRITABLE = [
    "enabled", "paused", "url", "identity", "security_profile", "ca_certificate",
    "authorization", "offline_authorization", "allowed_commands", "allow_firmware",
    "charger_down",
]  # fmt: skip


class UpstreamSettingsSerializer(serializers.ModelSerializer):
    """An installation's upstream settings, or one charger's override (``charger`` set).

    ``password`` is write-only: never in an answer (``has_password`` says whether one is
    stored); omitted or empty keeps the stored one. The rules are docs/upstream.md's
    "Configuration" (the pages apply the same)."""

    url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="ws:// or wss://; the identity is appended, or replaces {identity}.",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=100,
        style={"input_type": "password"},
        help_text="Security profiles 1 and 2: 16 to 40 characters. Write-only.",
    )
    has_password = serializers.SerializerMethodField()
    allowed_commands = serializers.ListField(
        child=serializers.ChoiceField(choices=UpstreamCommand.choices),
        required=False,
        allow_empty=True,
        help_text="What upstream may ask of the charger; anything else is answered NotSupported.",
    )

    class Meta:
        model = UpstreamSettings
        fields = ["id", "installation", "charger", *WRITABLE, "password", "has_password",
                  "created_at", "updated_at"]  # fmt: skip
        read_only_fields = ["installation", "charger", "created_at", "updated_at"]

    def get_has_password(self, row: UpstreamSettings) -> bool:
        return bool(row.password)


class ChargerStatusSerializer(serializers.Serializer):
    """A charger's upstream link as the bridge last saw it, and its queue."""

    charger = serializers.IntegerField(source="charger.pk")
    charger_name = serializers.CharField(source="charger.name")
    ocpp_identity = serializers.CharField(source="charger.ocpp_identity")
    bridged = serializers.BooleanField()
    source = serializers.ChoiceField(
        choices=["override", "installation", ""],
        help_text="Which settings apply: the charger's override, the installation's, none.",
    )
    url = serializers.CharField(help_text="The URL the link opens (empty when not bridged).")
    identity = serializers.CharField(help_text="The identity presented upstream.")
    state = serializers.ChoiceField(
        choices=[*LinkState.values, ""], help_text="Empty: the bridge has not seen it yet."
    )
    reason = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)
    boot_status = serializers.CharField(help_text="Upstream's last BootNotification answer.")
    last_sent_at = serializers.DateTimeField(allow_null=True)
    last_sent_action = serializers.CharField()
    last_received_at = serializers.DateTimeField(allow_null=True)
    last_received_action = serializers.CharField()
    queued = serializers.IntegerField(help_text="Transaction messages not yet delivered.")
    failed = serializers.IntegerField(
        help_text="Transaction messages given up after 3 attempts upstream refused or left "
        "unanswered (the queue behind each went on)."
    )
    last_failure = serializers.CharField(help_text="The last one given up: its action and why.")


class ProbeResultSerializer(serializers.Serializer):
    """The outcome of a test connection (no OCPP message is sent)."""

    ok = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=ProbeOutcome.choices)
    detail = serializers.CharField()
    url = serializers.CharField()
    duration_ms = serializers.FloatField()
    http_status = serializers.IntegerField(allow_null=True)
