"""Forms of the webhooks pages; the rules live in the model (``Endpoint.clean``) and services."""

from __future__ import annotations

from django import forms

from events.catalogue import SPECS
from webhooks.choices import DeliveryStatus


def event_type_choices() -> list[tuple[str, str]]:
    return [(spec.type.value, f"{spec.type.value} ({spec.type.label})") for spec in SPECS]


class EndpointForm(forms.Form):
    """A new endpoint, or an endpoint's settings."""

    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where Fusebox POSTs the events: https:// on the public internet.",
    )
    description = forms.CharField(max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Event types",
        choices=event_type_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type, also those added later.",
    )


class DeliveryFilter(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *DeliveryStatus.choices], required=False
    )
