"""Serializers of the charge-mode API. The input ones check types only; every rule (a departure
in the past, overlapping windows, ...) is ``modes.services``', answered 400 naming the field."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from modes.choices import ChargeMode, DayType, PlanStatus
from modes.models import ChargingWindow, SessionPlan, SurplusSettings

# --- a charger's default mode --------------------------------------------------------------


class ChargerModeSerializer(serializers.Serializer):
    """A charger's default mode (``now`` when none was set); ``waits_until``: in Scheduled
    mode outside the allowed hours, when a car may start (else null)."""

    charger = serializers.IntegerField(read_only=True)
    mode = serializers.ChoiceField(choices=ChargeMode.choices)
    waits_until = serializers.DateTimeField(read_only=True, allow_null=True)


# --- a session's plan ----------------------------------------------------------------------


class PlanSlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    current_a = serializers.FloatField(help_text="Planned current per phase (A).")
    energy_wh = serializers.FloatField(help_text="The energy the slot delivers as planned.")
    price_per_kwh = serializers.FloatField(allow_null=True)
    currency = serializers.CharField(help_text="Of the price; empty without one.")


class SessionPlanSerializer(serializers.ModelSerializer):
    """A session's mode and, for By departure, its need, the plan balancing last computed and
    where it stands. ``session`` null: waiting for the next session on the charger (taken by
    one that starts before ``claim_deadline``). ``headline``: the status in words ("Cannot be
    met: you will get about 18.4 kWh"); ``expected_wh``: the energy the plan reaches by the
    departure, from when it was set."""

    status = serializers.ChoiceField(choices=PlanStatus.choices, read_only=True)
    headline = serializers.SerializerMethodField()
    expected_wh = serializers.SerializerMethodField()
    slots = serializers.SerializerMethodField()
    claim_deadline = serializers.SerializerMethodField()

    class Meta:
        model = SessionPlan
        fields = [
            "id", "charger", "session", "mode", "departure_at", "energy_need_wh",
            "target_soc_percent", "status", "headline", "expected_wh", "slots", "planned_at",
            "cap_a", "reason", "needed_wh", "set_by", "claim_deadline", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def _summary(self, plan: SessionPlan) -> Any:
        from modes.readouts import summarize

        cache = self.context.setdefault("summaries", {})
        if plan.pk not in cache:
            cache[plan.pk] = summarize(plan, plan.charger)
        return cache[plan.pk]

    def get_headline(self, plan: SessionPlan) -> str:
        return str(self._summary(plan).headline)

    def get_expected_wh(self, plan: SessionPlan) -> float | None:
        expected = self._summary(plan).expected_wh
        return round(expected) if expected is not None else None

    @extend_schema_field(PlanSlotSerializer(many=True))
    def get_slots(self, plan: SessionPlan) -> list[dict[str, Any]]:
        return [
            {
                "start": slot.start,
                "end": slot.end,
                "current_a": slot.current_a,
                "energy_wh": round(slot.energy_wh, 1),
                "price_per_kwh": slot.price_per_kwh,
                "currency": slot.currency,
            }
            for slot in self._summary(plan).slots
        ]

    def get_claim_deadline(self, plan: SessionPlan) -> Any:
        return plan.claim_deadline() if plan.session_id is None else None


class SessionPlanInputSerializer(serializers.Serializer):
    """A plan to set: ``mode`` (default ``departure``); for By departure ``departure_at`` (with
    its time zone) and one of ``energy_need_wh`` or ``target_soc_percent`` (where the charger
    reports the car's SoC)."""

    mode = serializers.ChoiceField(choices=ChargeMode.choices, default=ChargeMode.DEPARTURE)
    departure_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    energy_need_wh = serializers.FloatField(required=False, allow_null=True, default=None)
    target_soc_percent = serializers.FloatField(required=False, allow_null=True, default=None)


# --- allowed hours -------------------------------------------------------------------------


class ChargingWindowSerializer(serializers.ModelSerializer):
    """One allowed-hours window; ``charger`` null: the installation's."""

    day_type = serializers.ChoiceField(choices=DayType.choices)
    start_time = serializers.TimeField(format="%H:%M")
    end_time = serializers.TimeField(
        format="%H:%M", help_text="Before start_time: wraps past midnight."
    )

    class Meta:
        model = ChargingWindow
        fields = ["id", "charger", "day_type", "start_time", "end_time"]
        read_only_fields = ["id", "charger"]


class ChargingWindowsInputSerializer(serializers.Serializer):
    """The whole set of windows of the installation (``charger`` absent or null) or of one of
    its chargers; an empty list removes them (the charger then follows the installation's)."""

    charger = serializers.IntegerField(required=False, allow_null=True, default=None)
    windows = ChargingWindowSerializer(many=True, allow_empty=True)


# --- surplus -------------------------------------------------------------------------------


class SurplusCarSerializer(serializers.Serializer):
    charger = serializers.IntegerField(source="charger.pk")
    charger_name = serializers.CharField(source="charger.name")
    session = serializers.IntegerField(source="session.pk")
    active = serializers.BooleanField(help_text="Charging from the surplus (false: waiting).")
    enough_since = serializers.DateTimeField(source="since", allow_null=True)


class SurplusSerializer(serializers.ModelSerializer):
    """An installation's surplus rules, and the live reading: ``surplus_a`` per phase (A) as
    reported, ``live_surplus_a`` what applies now (zero after ``surplus_valid_until``);
    ``cars``: sessions in surplus mode, waiting ones first."""

    live_surplus_a = serializers.SerializerMethodField()
    cars = serializers.SerializerMethodField()

    class Meta:
        model = SurplusSettings
        fields = [
            "start_after_minutes", "stop_after_minutes", "one_phase_at_low_surplus",
            "surplus_a", "surplus_valid_until", "surplus_reported_at", "live_surplus_a", "cars",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.FloatField()))
    def get_live_surplus_a(self, row: SurplusSettings) -> list[float]:
        from django.utils import timezone

        return row.live_surplus_a(timezone.now())

    @extend_schema_field(SurplusCarSerializer(many=True))
    def get_cars(self, row: SurplusSettings) -> list[dict[str, Any]]:
        return list(SurplusCarSerializer(self.context.get("cars", []), many=True).data)


class SurplusSettingsInputSerializer(serializers.Serializer):
    start_after_minutes = serializers.IntegerField(
        help_text="Start a waiting car once the surplus has covered its minimum this long."
    )
    stop_after_minutes = serializers.IntegerField(
        help_text="Stop a car once the surplus has fallen short this long."
    )
    one_phase_at_low_surplus = serializers.BooleanField(default=False)


class SurplusReportSerializer(serializers.Serializer):
    """A surplus reading: three currents (A per phase L1-L3) the site exports or could
    export, applying until ``valid_until`` (default 5 minutes, at most a day)."""

    surplus_a = serializers.ListField(child=serializers.FloatField())
    valid_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
