"""Read-only shapes of the balancing API: the load dashboard and recorded decisions."""

from __future__ import annotations

from rest_framework import serializers

from balancing.dashboard import ChargerState, LoadLevel
from balancing.models import BalancingDecision

NOTE_KINDS = ["paused", "offline", "finished", "held", "phases", "overload", "info"]


class PhaseLoadSerializer(serializers.Serializer):
    phase = serializers.CharField(help_text="Installation phase: L1, L2 or L3.")
    load_a = serializers.FloatField(help_text="Live draw of the chargers below (plus base load).")
    allowed_a = serializers.FloatField(
        help_text="What balancing lets the cars below draw (offline ones at failsafe)."
    )
    limit_a = serializers.FloatField(help_text="The limit now (main fuse: the live one if lower).")
    percent = serializers.FloatField(help_text="load_a as a share of limit_a, 0-100.")
    allowed_percent = serializers.FloatField()
    headroom_a = serializers.FloatField()
    level = serializers.ChoiceField(
        choices=[level.value for level in LoadLevel],
        help_text="ok; high: at least 80 % of the limit; full: at least 95 %; over: above it.",
    )


class FuseLoadSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The circuit's id.")
    name = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)
    depth = serializers.IntegerField(help_text="0 for the main fuse.")
    rating_a = serializers.FloatField()
    live_limited = serializers.BooleanField(
        help_text="The main fuse's limit follows a live available current below its rating."
    )
    charger_count = serializers.IntegerField()
    level = serializers.ChoiceField(choices=[level.value for level in LoadLevel])
    phases = PhaseLoadSerializer(many=True)


class PhaseDrawSerializer(serializers.Serializer):
    phase = serializers.CharField()
    current_a = serializers.FloatField()


class ChargerLoadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ocpp_identity = serializers.CharField()
    fuse_id = serializers.IntegerField(help_text="The circuit it hangs on.")
    fuse_name = serializers.CharField(help_text="Empty when you may not see circuits.")
    state = serializers.ChoiceField(choices=[state.value for state in ChargerState])
    state_label = serializers.CharField()
    reason = serializers.CharField(help_text="Why, in words; empty when nothing to explain.")
    online = serializers.BooleanField()
    car_connected = serializers.BooleanField()
    allocated_a = serializers.FloatField(allow_null=True, help_text="The limit last sent.")
    allocated_phases = serializers.IntegerField(allow_null=True)
    draw = PhaseDrawSerializer(many=True, help_text="Live current on the phases it is wired to.")
    draw_a = serializers.FloatField()
    draw_percent = serializers.FloatField()
    power_w = serializers.FloatField(help_text="Live, or estimated from currents and voltage.")
    power_kw = serializers.FloatField()
    session_energy_wh = serializers.FloatField()
    session_energy_kwh = serializers.FloatField()
    phases = serializers.IntegerField()
    priority = serializers.IntegerField()


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField()
    kind = serializers.CharField(help_text=f"One of: {', '.join(NOTE_KINDS)}.")
    charger_id = serializers.IntegerField(allow_null=True)


class DecisionRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    trigger = serializers.CharField()
    trigger_label = serializers.CharField()
    reason = serializers.CharField()
    solve_ms = serializers.FloatField()
    commands_sent = serializers.IntegerField()
    notes = NoteSerializer(many=True)


class LoadTotalsSerializer(serializers.Serializer):
    power_w = serializers.FloatField()
    power_kw = serializers.FloatField()
    charging = serializers.IntegerField()
    paused = serializers.IntegerField()
    cars = serializers.IntegerField()


class LoadDashboardSerializer(serializers.Serializer):
    installation_id = serializers.IntegerField()
    generated_at = serializers.DateTimeField()
    phase_count = serializers.IntegerField()
    voltage_v = serializers.IntegerField()
    failsafe_current_a = serializers.FloatField()
    live_available_a = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="From a meter, while valid."
    )
    live_available_until = serializers.DateTimeField(allow_null=True)
    last_decision_at = serializers.DateTimeField(allow_null=True)
    totals = LoadTotalsSerializer()
    fuses = FuseLoadSerializer(many=True)
    chargers = ChargerLoadSerializer(many=True)
    decisions = DecisionRowSerializer(many=True)


class BalancingDecisionSerializer(serializers.ModelSerializer):
    """A solve: when, why, how long, how many limits were sent, and the engine's notes."""

    notes = serializers.ListField(child=serializers.CharField(), source="result_notes")
    paused = serializers.ListField(child=serializers.CharField(), source="result_paused")
    finished = serializers.ListField(child=serializers.CharField(), source="result_finished")

    class Meta:
        model = BalancingDecision
        fields = [
            "id", "installation", "created_at", "trigger", "reason", "solve_ms", "commands_sent",
            "notes", "paused", "finished",
        ]  # fmt: skip
        read_only_fields = fields


class BalancingDecisionDetailSerializer(BalancingDecisionSerializer):
    """Also the full snapshot the engine saw and its full answer."""

    class Meta(BalancingDecisionSerializer.Meta):
        fields = [*BalancingDecisionSerializer.Meta.fields, "scenario", "result"]
        read_only_fields = fields
