"""API shapes of incidents (read-only, plus the acknowledge request)."""

from __future__ import annotations

from rest_framework import serializers

from events.models import Incident, IncidentCharger


class IncidentChargerSerializer(serializers.ModelSerializer):
    charger_name = serializers.CharField(source="charger.name", read_only=True)

    class Meta:
        model = IncidentCharger
        fields = ["charger", "charger_name", "connector_id", "started_at", "ended_at", "detail"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    """An offline, fault or overload episode: ``ended_at`` null while open, ``duration_s`` once
    ended; ``chargers`` lists each charger (or connector) with its own episode; ``circuit``: the
    overloaded fuse (overload incidents, whose ``chargers`` is empty)."""

    chargers = IncidentChargerSerializer(source="members", many=True, read_only=True)
    duration_s = serializers.SerializerMethodField()
    acknowledged_by_name = serializers.CharField(
        source="acknowledged_by.name", read_only=True, default=None
    )

    class Meta:
        model = Incident
        fields = [
            "id", "installation", "kind", "circuit", "summary", "started_at", "ended_at", "duration_s",
            "chargers", "acknowledged_by", "acknowledged_by_name", "acknowledged_at", "note",
        ]  # fmt: skip
        read_only_fields = fields

    def get_duration_s(self, incident: Incident) -> int | None:
        duration = incident.duration
        return None if duration is None else round(duration.total_seconds())


class AcknowledgeSerializer(serializers.Serializer):
    """Acknowledge an incident, optionally with a note (replaces the note when given)."""

    note = serializers.CharField(
        max_length=2000, allow_blank=True, required=False, trim_whitespace=True
    )
