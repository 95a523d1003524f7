"""The planning pages' forms (GET: a report is a computation, its URL can be shared and
exported). The same fields and limits as the API's serializers; the checks that need the site
are ``planning.changes.problems`` and ``services.new_site``, shown on the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from planning.changes import MAX_EXTRA_CHARGERS, MAX_MORE_CARS_PERCENT
from planning.presets import PRESETS
from planning.services import DEFAULT_DAYS, MAX_DAYS, MAX_NEW_SITE_DAYS

PHASES = [(3, "3-phase"), (1, "1-phase")]


class PlanningForm(forms.Form):
    def add_problems(self, fields: dict[str, str]) -> None:
        for name, message in fields.items():
            self.add_error(name if name in self.fields else None, message)


class WhatIfForm(PlanningForm):
    """The changes to replay the installation's history with."""

    days = forms.IntegerField(
        label="Period (days)",
        min_value=1,
        max_value=MAX_DAYS,
        initial=DEFAULT_DAYS,
        help_text="Sessions that began in the last this many days.",
    )
    extra_chargers = forms.IntegerField(
        label="More chargers",
        min_value=0,
        max_value=MAX_EXTRA_CHARGERS,
        required=False,
        help_text="Their cars are drawn from this installation's history.",
    )
    extra_chargers_circuit = forms.ModelChoiceField(
        label="On circuit", queryset=None, required=False, empty_label="Choose a circuit"
    )
    extra_charger_max_current_a = forms.FloatField(
        label="New chargers' max current (A)",
        min_value=6,
        max_value=80,
        initial=32,
        required=False,
    )
    extra_charger_phases = forms.TypedChoiceField(
        label="New chargers' phases", choices=PHASES, coerce=int, initial=3, required=False
    )
    main_fuse_a = forms.FloatField(
        label="Main fuse (A)", min_value=1, max_value=4000, required=False
    )
    circuit = forms.ModelChoiceField(
        label="Resize circuit", queryset=None, required=False, empty_label="No circuit"
    )
    circuit_a = forms.FloatField(label="To (A)", min_value=1, max_value=4000, required=False)
    failsafe_current_a = forms.FloatField(
        label="Failsafe current (A)", min_value=0, max_value=80, required=False
    )
    max_phase_imbalance_a = forms.FloatField(
        label="Max phase imbalance (A)", min_value=0, max_value=4000, required=False
    )
    more_cars_percent = forms.FloatField(
        label="More cars (%)",
        min_value=0,
        max_value=MAX_MORE_CARS_PERCENT,
        required=False,
        help_text="Extra visits like the recorded ones, on chargers free at the time.",
    )

    def __init__(self, *args: Any, circuits: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("extra_chargers_circuit", "circuit"):
            self.fields[name].queryset = circuits  # type: ignore[attr-defined]


class NewSiteForm(PlanningForm):
    """A site without history."""

    preset = forms.ChoiceField(
        label="Used as", choices=[(name.value, preset.label) for name, preset in PRESETS.items()]
    )
    main_fuse_a = forms.FloatField(label="Main fuse (A)", min_value=1, max_value=4000)
    circuits = forms.IntegerField(label="Circuits", min_value=1, max_value=200, initial=1)
    circuit_a = forms.FloatField(label="Each circuit (A)", min_value=1, max_value=4000)
    chargers_per_circuit = forms.IntegerField(
        label="Chargers per circuit", min_value=0, max_value=MAX_EXTRA_CHARGERS
    )
    charger_max_current_a = forms.FloatField(
        label="Charger max current (A)", min_value=6, max_value=80, initial=32
    )
    charger_phases = forms.TypedChoiceField(
        label="Charger phases", choices=PHASES, coerce=int, initial=3
    )
    failsafe_current_a = forms.FloatField(
        label="Failsafe current (A)", min_value=0, max_value=80, initial=6
    )
    max_phase_imbalance_a = forms.FloatField(
        label="Max phase imbalance (A)", min_value=0, max_value=4000, required=False
    )
    base_load_a = forms.FloatField(
        label="Building load on the main fuse (A)",
        min_value=0,
        max_value=4000,
        initial=0,
        required=False,
    )
    days = forms.IntegerField(label="Days", min_value=1, max_value=MAX_NEW_SITE_DAYS, initial=7)
    seed = forms.IntegerField(
        label="Seed",
        min_value=0,
        max_value=2**31 - 1,
        initial=1,
        help_text="The same seed gives the same cars.",
    )
