"""The form of one subscription on the Alerts page."""

from __future__ import annotations

from typing import Any

from django import forms

from alerts.choices import AlertKind
from alerts.models import Subscription
from chargers.models import Charger


class SubscriptionForm(forms.ModelForm):
    """Kinds, muted chargers (those the user may see at the installation), the offline
    threshold, at once or in a digest, on or off."""

    kinds = forms.MultipleChoiceField(
        choices=AlertKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Tell me of",
    )
    muted_chargers = forms.ModelMultipleChoiceField(
        queryset=Charger.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Muted chargers",
        help_text="No alert about these chargers.",
    )

    class Meta:
        model = Subscription
        fields = ["enabled", "kinds", "muted_chargers", "offline_threshold_minutes", "delivery"]
        labels = {
            "enabled": "Alerts from this installation",
            "offline_threshold_minutes": "Offline for at least (minutes)",
            "delivery": "Send",
        }

    def __init__(self, *args: Any, chargers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["muted_chargers"].queryset = chargers
        self.fields["offline_threshold_minutes"].widget.attrs.update({"min": 1, "max": 1440})
