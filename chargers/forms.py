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
            "can_switch_phases",
            "min_current_a",
            "max_current_a",
            "priority",
            "authorization_mode",
            "vendor",
            "model",
            "serial_number",
        ]
        field_classes = {"circuit": CircuitChoiceField}
        labels = {
            "authorization_mode": "Authorization",
            "serial_number": "Serial number",
            "can_switch_phases": "Can switch between 1 and 3 phases",
        }
        help_texts = {
            "ocpp_identity": "The charge point identity configured in the charger; it ends its OCPP URL.",
            "circuit": (
                "The fuse the charger is connected behind. Balancing keeps this fuse and every "
                "fuse above it within its limit."
            ),
            "phases": (
                "How many phases the charger is wired with. A 1-phase charger draws on the first "
                "phase of its rotation."
            ),
            "phase_rotation": (
                "Which installation phase each charger phase is wired to: L2 L3 L1 means the "
                "charger's phase 1 is on L2. Rotating neighbouring chargers spreads 1-phase cars "
                "over all three phases."
            ),
            "can_switch_phases": (
                "Tick only if the charger supports it: balancing may then let a car charge on one "
                "phase when there is not enough room on all three."
            ),
            "min_current_a": (
                "The least the charger is given while a car charges; most cars need 6 A. When "
                "there is less room, the car pauses instead and takes turns with others."
            ),
            "max_current_a": (
                "The most the charger is given, per phase: its own rating or its cable's, "
                "whichever is lower."
            ),
            "priority": (
                "When there is not enough for every car, chargers with a higher number are served "
                "first; equal numbers share fairly. 0 is normal."
            ),
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
