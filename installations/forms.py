"""Forms of the installation pages. Validation messages come from the models' ``clean()``.

``ScopedModelForm`` is the base for objects that belong to an installation which the view sets
(never a form field, so it cannot be tampered with): Django skips constraints on fields that are
not in the form, so it puts the installation back into constraint validation, and words the
"name already used" constraint as a message on the name field.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from functools import cache
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from installations.choices import Role
from installations.models import Circuit, Installation, Invitation


class ModelErrorsMixin:
    """A model ``clean()`` error on a field this form does not show goes above the form.

    Django raises ``ValueError`` for it (a 500) instead; errors on shown fields stay there.
    """

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            placed: dict[str, list[ValidationError]] = {}
            for name, messages in errors.error_dict.items():
                key = name if name in self.fields else NON_FIELD_ERRORS  # type: ignore[attr-defined]
                placed.setdefault(key, []).extend(messages)
            errors = ValidationError(placed)
        super()._update_errors(errors)  # type: ignore[misc]


class ScopedModelForm(ModelErrorsMixin, forms.ModelForm):
    """A ModelForm for an object whose ``installation`` the view assigns before validation."""

    scope_fields: ClassVar[tuple[str, ...]] = ("installation",)

    def validate_unique(self) -> None:
        """Also check the constraints that involve the scope (e.g. a name unique per installation).

        Django leaves them out of ``full_clean()`` because the installation is not a form field.
        """
        super().validate_unique()
        exclude = self._get_validation_exclusions() - set(self.scope_fields)
        for model_class, constraints in self.instance.get_constraints():
            for constraint in constraints:
                if not set(getattr(constraint, "fields", ())) & set(self.scope_fields):
                    continue
                try:
                    constraint.validate(model_class, self.instance, exclude=exclude)
                except ValidationError as error:
                    self._update_errors(self._name_errors_on_name_field(error))

    def _name_errors_on_name_field(self, error: ValidationError) -> ValidationError:
        """Show "another X here has this name" under the name field rather than above the form."""
        params = getattr(error, "params", None) or {}
        if (
            "name" in self.fields
            and getattr(error, "code", None) == "unique_together"
            and "name" in params.get("unique_check", ())
        ):
            noun = self._meta.model._meta.verbose_name
            return ValidationError(
                {"name": f"Another {noun} of this installation already has this name."}
            )
        return error


@cache
def time_zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every IANA time zone, grouped by region ("Europe" -> "Europe/Oslo")."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(zoneinfo.available_timezones()):
        region, _, place = name.partition("/")
        if not place:
            region, place = "Other", name
        groups.setdefault(region, []).append((name, place.replace("_", " ").replace("/", " / ")))
    return list(groups.items())


class InstallationForm(ModelErrorsMixin, forms.ModelForm):
    """Settings of an installation (its main fuse is edited as a circuit)."""

    time_zone = forms.ChoiceField(choices=time_zone_choices)

    class Meta:
        model = Installation
        fields = [
            "name",
            "address",
            "time_zone",
            "authorization_mode",
            "phases",
            "voltage_v",
            "network_type",
            "failsafe_current_a",
            "max_phase_imbalance_a",
            "price_per_kwh",
            "currency",
        ]
        labels = {
            "authorization_mode": "Authorization",
            "network_type": "Network type",
            "price_per_kwh": "Price per kWh",
        }
        help_texts = {
            "authorization_mode": "Locked: drivers identify with a card or the app before charging.",
            "phases": "How the site is supplied: one phase, or three (L1, L2, L3).",
            "failsafe_current_a": (
                "What every charger falls back to by itself when it cannot reach Fusebox (for "
                "example when the internet connection is down). The fuses must carry it for "
                "every charger at once, so it is kept free for offline chargers. Most cars need "
                "at least 6 A; 0 stops charging while offline."
            ),
            "max_phase_imbalance_a": (
                "Some grid operators limit how much more one phase may carry than another "
                "(often 16 A or 20 A). Balancing keeps the chargers' combined draw within it. "
                "Leave empty for no limit."
            ),
            "currency": "Three-letter ISO 4217 code, e.g. EUR or NOK.",
        }
        widgets = {
            "address": forms.Textarea(attrs={"rows": 2}),
            "currency": forms.TextInput(attrs={"maxlength": 3, "autocapitalize": "characters"}),
        }


class InstallationCreateForm(InstallationForm):
    """A new installation also needs its main fuse rating."""

    main_fuse_a = forms.FloatField(
        label="Main fuse rating (A)",
        min_value=1,
        max_value=4000,
        help_text="The fuse that protects the whole site, per phase.",
    )

    field_order: ClassVar[list[str]] = [
        "name",
        "address",
        "time_zone",
        "authorization_mode",
        "phases",
        "voltage_v",
        "network_type",
        "main_fuse_a",
        "failsafe_current_a",
    ]


class CircuitChoiceField(forms.ModelChoiceField):
    """Parent circuits, indented by depth so the select reads like the tree."""

    def __init__(self, *args: Any, depths: dict[int, int] | None = None, **kwargs: Any) -> None:
        self.depths = depths or {}
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Circuit) -> str:
        indent = "\u2003" * self.depths.get(obj.pk, 0)
        return f"{indent}{obj.name} ({obj.max_current_a:g} A)"


def tree_order(circuits: Iterable[Circuit]) -> list[tuple[Circuit, int]]:
    """Circuits in depth-first order with their depth (the main fuse is depth 0)."""
    circuits = list(circuits)
    children: dict[int | None, list[Circuit]] = {}
    for circuit in circuits:
        children.setdefault(circuit.parent_id, []).append(circuit)
    known = {circuit.pk for circuit in circuits}
    roots = [c for c in circuits if c.parent_id is None or c.parent_id not in known]
    ordered: list[tuple[Circuit, int]] = []

    def walk(circuit: Circuit, depth: int) -> None:
        ordered.append((circuit, depth))
        for child in sorted(children.get(circuit.pk, []), key=lambda c: c.name.lower()):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return ordered


def descendants_of(circuit: Circuit, circuits: Iterable[Circuit]) -> set[int]:
    """Primary keys of every circuit below ``circuit`` (from an already loaded list)."""
    children: dict[int | None, list[int]] = {}
    for other in circuits:
        children.setdefault(other.parent_id, []).append(other.pk)
    found: set[int] = set()
    pending = [circuit.pk]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


class CircuitForm(ScopedModelForm):
    """A sub-circuit: its name, the circuit it hangs under and its limit."""

    class Meta:
        model = Circuit
        fields = ["name", "parent", "max_current_a"]
        field_classes = {"parent": CircuitChoiceField}
        labels = {"parent": "Below circuit", "max_current_a": "Limit per phase (A)"}
        help_texts = {
            "name": "How people on site know this fuse, e.g. Garage row A.",
            "parent": "The circuit this one is fed from; its chargers also count there.",
            "max_current_a": (
                "The fuse rating, per phase. Balancing keeps the chargers below it within this "
                "limit; it cannot exceed the circuit above it."
            ),
        }

    def __init__(self, *args: Any, circuits: Any, **kwargs: Any) -> None:
        """``circuits``: the installation's circuits the user may administer (a restricted queryset)."""
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.is_main_fuse:
            del self.fields["parent"]
            limit = self.fields["max_current_a"]
            limit.help_text = (
                "The rating of the fuse that protects the whole installation, per phase. A live "
                "meter reading (through the API) can lower it for a while, never raise it."
            )
            return
        candidates = list(circuits)
        excluded = (
            {self.instance.pk, *descendants_of(self.instance, candidates)}
            if self.instance.pk
            else set()
        )
        ordered = [(c, depth) for c, depth in tree_order(candidates) if c.pk not in excluded]
        parent = self.fields["parent"]
        parent.queryset = circuits.exclude(pk__in=excluded)
        parent.depths = {c.pk: depth for c, depth in ordered}
        parent.required = True
        parent.empty_label = None
        parent.choices = [(c.pk, parent.label_from_instance(c)) for c, _ in ordered]


class InviteForm(forms.ModelForm):
    """Invite a person by e-mail; the roles offered are those the inviting member may manage."""

    class Meta:
        model = Invitation
        fields = ["email", "role"]
        labels = {"email": "E-mail address"}
        widgets = {
            "email": forms.EmailInput(
                attrs={"placeholder": "name@example.com", "autocomplete": "off"}
            )
        }

    def __init__(self, *args: Any, roles: Iterable[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = set(roles)
        self.fields["role"].choices = [(r.value, r.label) for r in Role if r in allowed]


class MemberRoleForm(forms.Form):
    """Change a member's role."""

    role = forms.ChoiceField(choices=Role.choices)
