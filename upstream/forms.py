"""Forms of the Upstream tab; the rules live in ``upstream.services.validate`` (pages and API
share them). The password is write-only: never rendered back, empty keeps the stored one."""

from __future__ import annotations

from typing import Any

from django import forms

from chargers.models import Charger
from upstream.choices import UpstreamCommand
from upstream.models import UpstreamSettings


class UpstreamSettingsForm(forms.ModelForm):
    """An installation's upstream settings, or one charger's override."""

    url = forms.CharField(
        label="Central system URL",
        max_length=500,
        required=False,
        help_text="ws:// or wss://. The identity is appended as the last path segment, or goes "
        "where the URL holds {identity}.",
    )
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
        max_length=100,
        help_text="Security profiles 1 and 2: 16 to 40 characters. Never shown again; leave "
        "empty to keep the stored one.",
    )
    allowed_commands = forms.MultipleChoiceField(
        label="Commands upstream may send",
        choices=[(command, command) for command in UpstreamCommand.values],  # OCPP's names
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Anything else is answered NotSupported.",
    )

    class Meta:
        model = UpstreamSettings
        fields = [
            "enabled", "paused", "url", "identity", "security_profile", "password",
            "ca_certificate", "authorization", "offline_authorization", "allowed_commands",
            "allow_firmware", "charger_down",
        ]  # fmt: skip
        widgets = {"ca_certificate": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_password = bool(self.instance.password)
        self.initial["password"] = ""
        if self.has_password:
            self.fields["password"].widget.attrs["placeholder"] = "(stored: leave empty to keep)"

    def _post_clean(self) -> None:
        """The model's own checks run in ``services.validate`` at save; a write-only password
        must not be replaced by an empty one here."""
        password = self.cleaned_data.get("password", "")
        stored = self.instance.password
        super()._post_clean()
        self.instance.password = password or stored


class OverrideForm(forms.Form):
    """Which charger gets settings of its own."""

    charger = forms.ModelChoiceField(queryset=Charger.objects.none(), label="Charger")

    def __init__(self, *args: Any, chargers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["charger"].queryset = chargers
