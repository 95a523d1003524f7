"""Serializers of the tariffs API. The input ones check types only; every rule (overlapping
bands, a gap in a price list, a start in the past, ...) is ``tariffs.services``', answered 400
naming the field or the entry."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tariffs.choices import DayType, PriceSource
from tariffs.models import DayAheadPrice, Holiday, Tariff, TariffBand


class AwareDateTimeField(serializers.DateTimeField):
    """An instant with its offset (``2026-12-05T13:00:00+01:00`` or ``...Z``); a time without one
    is refused rather than guessed."""

    default_error_messages = {
        "naive": "Give the time with its offset (+01:00 or Z): a bare time is ambiguous."
    }

    def to_internal_value(self, value: Any) -> Any:
        parsed = super().to_internal_value(value)
        if isinstance(value, str) and not _has_offset(value):
            self.fail("naive")
        return parsed


def _has_offset(text: str) -> bool:
    tail = text.strip()[10:]  # past the date
    return tail.endswith(("Z", "z")) or "+" in tail or "-" in tail


# --- tariff ----------------------------------------------------------------------------------


class TariffBandSerializer(serializers.ModelSerializer):
    """A price per kWh from ``start_time`` to ``end_time`` (local, HH:MM) on ``day_type`` days
    (``weekday`` or ``weekend``: weekends and holidays). An end before the start wraps past
    midnight (22:00-07:00); an end equal to the start is the whole day."""

    day_type = serializers.ChoiceField(choices=DayType.choices)
    start_time = serializers.TimeField(format="%H:%M")
    end_time = serializers.TimeField(format="%H:%M")
    price_per_kwh = serializers.DecimalField(max_digits=8, decimal_places=4)

    class Meta:
        model = TariffBand
        fields = ["day_type", "start_time", "end_time", "price_per_kwh"]


class TariffSerializer(serializers.ModelSerializer):
    """A tariff and its bands, in force from ``effective_from`` until the next one begins."""

    bands = TariffBandSerializer(many=True, read_only=True)

    class Meta:
        model = Tariff
        fields = ["id", "name", "currency", "effective_from", "bands", "created_at"]
        read_only_fields = fields


class TariffInputSerializer(serializers.Serializer):
    """A new tariff: it applies from ``effective_from`` (default now; never in the past) and
    replaces the one in force from then on. No bands: the flat price applies again.
    ``currency`` defaults to the installation's."""

    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    effective_from = AwareDateTimeField(required=False, allow_null=True, default=None)
    bands = TariffBandSerializer(many=True)


class TariffStateSerializer(serializers.Serializer):
    """The tariff in force now (null: none, the flat price applies) and those scheduled."""

    in_force = TariffSerializer(allow_null=True)
    scheduled = TariffSerializer(many=True)


# --- holidays --------------------------------------------------------------------------------


class HolidaySerializer(serializers.ModelSerializer):
    """A local date of the installation that counts as a weekend day (tariff bands, charge
    modes' allowed hours)."""

    class Meta:
        model = Holiday
        fields = ["id", "date", "name"]
        read_only_fields = ["id"]


# --- day-ahead prices ------------------------------------------------------------------------


class DayAheadEntrySerializer(serializers.Serializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()
    price_per_kwh = serializers.DecimalField(
        max_digits=12, decimal_places=6, help_text="May be negative; at most 4 decimals stored."
    )


class DayAheadInputSerializer(serializers.Serializer):
    """A contiguous list of prices (hourly or quarter-hourly): no gaps, no overlaps, each ending
    after its start. They replace the stored prices over the range they cover. ``currency``
    defaults to the installation's."""

    currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    prices = DayAheadEntrySerializer(many=True, allow_empty=False)


class DayAheadPriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = DayAheadPrice
        fields = ["start", "end", "price_per_kwh", "currency"]
        read_only_fields = fields


class PriceSlotSerializer(serializers.Serializer):
    """The price in force over ``[start, end)`` and where it comes from."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    price_per_kwh = serializers.DecimalField(max_digits=8, decimal_places=4, allow_null=True)
    currency = serializers.CharField()
    source = serializers.ChoiceField(choices=PriceSource.choices)
