"""The form that sends a command to a charger from the web UI."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from commands.choices import CommandAction
from commands.payloads import payload_errors

# A starting payload for each action, filled in when the action is picked in the form.
PAYLOAD_PRESETS: dict[str, dict[str, Any]] = {
    CommandAction.REMOTE_START_TRANSACTION: {"connectorId": 1, "idTag": "PORTAL"},
    CommandAction.REMOTE_STOP_TRANSACTION: {"transactionId": 1},
    CommandAction.RESET: {"type": "Soft"},
    CommandAction.UNLOCK_CONNECTOR: {"connectorId": 1},
    CommandAction.CHANGE_AVAILABILITY: {"connectorId": 0, "type": "Operative"},
    CommandAction.CHANGE_CONFIGURATION: {"key": "HeartbeatInterval", "value": "300"},
    CommandAction.GET_CONFIGURATION: {},
    CommandAction.CLEAR_CACHE: {},
    CommandAction.TRIGGER_MESSAGE: {"requestedMessage": "StatusNotification", "connectorId": 1},
    # SetChargingProfile and SendLocalList are always refused (commands/reserved.py), so they
    # have no preset; only profiles Fusebox does not own may be cleared by hand.
    CommandAction.CLEAR_CHARGING_PROFILE: {"chargingProfilePurpose": "TxProfile"},
    CommandAction.GET_COMPOSITE_SCHEDULE: {
        "connectorId": 1,
        "duration": 3600,
        "chargingRateUnit": "A",
    },
    CommandAction.GET_LOCAL_LIST_VERSION: {},
    CommandAction.GET_DIAGNOSTICS: {"location": "ftp://diagnostics.example.com/uploads/"},
    CommandAction.UPDATE_FIRMWARE: {
        "location": "https://firmware.example.com/charger-1.2.3.bin",
        "retrieveDate": "2026-01-01T00:00:00Z",
    },
    CommandAction.DATA_TRANSFER: {"vendorId": "com.example", "messageId": "ping", "data": ""},
}


class PayloadField(forms.JSONField):
    """A JSON object shown back as typed, except that a lone surrogate (a valid JSON escape the
    schema check refuses) stays an escape: as a character the page could not be encoded."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        text = json.dumps(value, ensure_ascii=False, cls=self.encoder)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class CommandForm(forms.Form):
    action = forms.ChoiceField(choices=CommandAction.choices, initial=CommandAction.RESET)
    payload = PayloadField(
        required=False,  # {} is a valid payload (ClearCache), which a required field would refuse
        initial=PAYLOAD_PRESETS[CommandAction.RESET],
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono", "spellcheck": "false"}),
        help_text="The OCPP 1.6 request as JSON; it is checked against the OCPP schema before sending.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        action = cleaned.get("action")
        payload = cleaned["payload"] = (
            {} if cleaned.get("payload") in (None, "") else cleaned.get("payload")
        )
        if action and "payload" not in self.errors:
            if not isinstance(payload, dict):
                self.add_error("payload", "The payload must be a JSON object, e.g. {}.")
            else:
                for path, messages in payload_errors(action, payload).items():
                    for message in messages:
                        self.add_error("payload", f"{path}: {message}")
        return cleaned
