"""What a what-if and a new-site plan take, and the report they answer (``Report.as_dict``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from planning.changes import MAX_EXTRA_CHARGERS, MAX_MORE_CARS_PERCENT
from planning.presets import PresetName
from planning.services import DEFAULT_DAYS, MAX_DAYS, MAX_NEW_SITE_DAYS


def _phases(value: int) -> None:
    if value not in (1, 3):
        raise serializers.ValidationError("1 or 3 phases.")


class WhatIfSerializer(serializers.Serializer):
    """The changes to replay an installation's history with; leave out what stays as it is.
    ``extra_chargers_circuit`` and ``circuit`` are circuit ids of the installation."""

    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, default=DEFAULT_DAYS)
    extra_chargers = serializers.IntegerField(min_value=0, max_value=MAX_EXTRA_CHARGERS, default=0)
    extra_chargers_circuit = serializers.IntegerField(required=False, allow_null=True)
    extra_charger_max_current_a = serializers.FloatField(min_value=6, max_value=80, default=32)
    extra_charger_phases = serializers.IntegerField(default=3, validators=[_phases])
    main_fuse_a = serializers.FloatField(
        min_value=1, max_value=4000, required=False, allow_null=True
    )
    circuit = serializers.IntegerField(required=False, allow_null=True)
    circuit_a = serializers.FloatField(min_value=1, max_value=4000, required=False, allow_null=True)
    failsafe_current_a = serializers.FloatField(
        min_value=0, max_value=80, required=False, allow_null=True
    )
    max_phase_imbalance_a = serializers.FloatField(
        min_value=0, max_value=4000, required=False, allow_null=True
    )
    more_cars_percent = serializers.FloatField(
        min_value=0, max_value=MAX_MORE_CARS_PERCENT, default=0
    )
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Circuit ids become the installation's circuits (through the restricted queryset the
        view passes as ``circuits``); another installation's circuit is not one."""
        circuits = self.context["circuits"]
        for name in ("extra_chargers_circuit", "circuit"):
            if attrs.get(name) is None:
                attrs[name] = None
                continue
            found = circuits.filter(pk=attrs[name]).first()
            if found is None:
                raise serializers.ValidationError({name: "Not a circuit of this installation."})
            attrs[name] = found
        return attrs


class NewSiteSerializer(serializers.Serializer):
    """A site without history: a main fuse, equal circuits of equal chargers, and a preset of
    how it is used (``office``, ``housing``, ``depot``)."""

    preset = serializers.ChoiceField(choices=[(name.value, name.value) for name in PresetName])
    main_fuse_a = serializers.FloatField(min_value=1, max_value=4000)
    circuits = serializers.IntegerField(min_value=1, max_value=200, default=1)
    circuit_a = serializers.FloatField(min_value=1, max_value=4000)
    chargers_per_circuit = serializers.IntegerField(min_value=0, max_value=MAX_EXTRA_CHARGERS)
    charger_max_current_a = serializers.FloatField(min_value=6, max_value=80, default=32)
    charger_phases = serializers.IntegerField(default=3, validators=[_phases])
    failsafe_current_a = serializers.FloatField(min_value=0, max_value=80, default=6)
    max_phase_imbalance_a = serializers.FloatField(
        min_value=0, max_value=4000, required=False, allow_null=True
    )
    base_load_a = serializers.FloatField(min_value=0, max_value=4000, default=0)
    days = serializers.IntegerField(min_value=1, max_value=MAX_NEW_SITE_DAYS, default=7)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=1)


class ValidationReportSerializer(serializers.Serializer):
    recorded_kwh = serializers.FloatField()
    replayed_kwh = serializers.FloatField()
    difference_percent = serializers.FloatField()
    within_tolerance = serializers.BooleanField()


class ProfilePointSerializer(serializers.Serializer):
    time = serializers.CharField(help_text="Local time of day, HH:MM (15-minute slots).")
    load_a = serializers.FloatField(help_text="Average load of the main fuse's busiest phase.")


class ScenarioReportSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="today, changed or plan")
    label = serializers.CharField()
    chargers = serializers.IntegerField()
    main_fuse_a = serializers.FloatField()
    failsafe_current_a = serializers.FloatField()
    max_phase_imbalance_a = serializers.FloatField(allow_null=True)
    cars = serializers.IntegerField()
    cars_without_free_charger = serializers.IntegerField()
    needed_kwh = serializers.FloatField()
    delivered_kwh = serializers.FloatField()
    not_delivered_kwh = serializers.FloatField()
    cars_short = serializers.IntegerField(help_text="Cars that left with under 98 % of their need.")
    hours_at_fuse_limit = serializers.FloatField()
    peak_main_a = serializers.ListField(child=serializers.FloatField(), help_text="L1, L2, L3")
    solves = serializers.IntegerField()
    day_profile = ProfilePointSerializer(many=True)


class ReportSerializer(serializers.Serializer):
    installation = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    step_minutes = serializers.IntegerField()
    base_load_known_share = serializers.FloatField()
    changes = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())
    validation = ValidationReportSerializer(allow_null=True)
    scenarios = ScenarioReportSerializer(many=True)


class JobStartedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="queued")
    job = serializers.CharField(help_text="The run's token.")
    url = serializers.CharField(help_text="Where to read it: GET what-if/jobs/{token}/.")


class JobSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="queued, running, done or failed")
    report = ReportSerializer(allow_null=True)
    error = serializers.DictField(child=serializers.CharField(), allow_null=True)
