"""Forms of the charger pages. Validation messages come from ``Charger.clean()`` and its constraints."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from chargers.models import Charger
from installations.forms import CircuitChoiceField, ScopedModelForm, tree_order


class ChargerForm(ScopedModelForm):
    """A charger's settings; the installation comes from the page, the circuit from its tree."""

    class Meta:
        model = Charger
        fields = [
            "name",
            "ocpp_identity",
            "circuit",
            "phases",
            "phase_rotation",
            "min_current_a",
            "max_current_a",
            "priority",
            "authorization_mode",
            "vendor",
            "model",
            "serial_number",
        ]
        field_classes = {"circuit": CircuitChoiceField}
        labels = {"authorization_mode": "Authorization", "serial_number": "Serial number"}
        help_texts = {
            "ocpp_identity": "The charge point identity configured in the charger; it ends its OCPP URL.",
            "phase_rotation": "Which installation phase each charger phase is wired to.",
        }
        widgets = {
            "ocpp_identity": forms.TextInput(
                attrs={"autocapitalize": "none", "spellcheck": "false"}
            )
        }

    def __init__(self, *args: Any, circuits: Any, **kwargs: Any) -> None:
        """``circuits``: the installation's circuits the user may administer (a restricted queryset)."""
        super().__init__(*args, **kwargs)
        ordered = tree_order(circuits)
        circuit = self.fields["circuit"]
        circuit.queryset = circuits
        circuit.depths = {c.pk: depth for c, depth in ordered}
        circuit.empty_label = None
        circuit.choices = [(c.pk, circuit.label_from_instance(c)) for c, _ in ordered]


class ChargerRegisterForm(ChargerForm):
    """Registration also says how many connectors (plugs) the charger has."""

    connector_count = forms.IntegerField(
        label="Connectors", min_value=1, max_value=16, initial=1, help_text="Number of plugs."
    )

    field_order: ClassVar[list[str]] = [
        "name",
        "ocpp_identity",
        "circuit",
        "connector_count",
    ]
