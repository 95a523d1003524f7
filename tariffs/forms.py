"""Forms of the Prices page. They turn what an owner types into what ``tariffs.services`` takes
("07:00-22:00 0.32, 22:00-07:00 0.12" into bands, a local time into an aware one); every rule
(overlaps, prices, a start in the past) stays the service's, whose messages are shown by the
field."""

from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django import forms

from tariffs.choices import DayType
from tariffs.services import BandSpec

BAND = re.compile(
    r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s+(-?\d+(?:[.,]\d+)?)\s*$"
)


def parse_bands(text: str, day_type: str) -> list[BandSpec]:
    """ "07:00-22:00 0.32, 22:00-07:00 0.12" as bands of ``day_type``; a clear message for the
    first item that is not a band."""
    specs = []
    for item in filter(None, (part.strip() for part in re.split(r"[,;\n]", text or ""))):
        match = BAND.match(item)
        if not match:
            raise forms.ValidationError(
                f"{item!r} is not a band: write a start, an end and a price, like 07:00-22:00 0.32."
            )
        start_h, start_m, end_h, end_m, price = match.groups()
        try:
            start = time(int(start_h), int(start_m))
            end = time(0, 0) if (end_h, end_m) == ("24", "00") else time(int(end_h), int(end_m))
        except ValueError:
            raise forms.ValidationError(f"{item!r}: a time of day is out of range.") from None
        specs.append(BandSpec(day_type, start, end, Decimal(price.replace(",", "."))))
    return specs


def bands_text(bands: Any, day_type: str) -> str:
    """The bands of one day type as the form shows them."""
    return ", ".join(
        f"{band.start_time:%H:%M}-{band.end_time:%H:%M} {band.price_per_kwh.normalize():f}"
        for band in bands
        if band.day_type == day_type
    )


class TariffForm(forms.Form):
    """A new time-of-use tariff: from a local time (empty: now), its currency and its bands,
    one line per kind of day. Hours no band covers keep the flat price."""

    effective_from = forms.DateTimeField(
        label="From",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: now. A tariff that has begun is history and cannot be changed.",
    )
    name = forms.CharField(label="Name", required=False, max_length=100)
    currency = forms.CharField(label="Currency", max_length=3)
    weekday = forms.CharField(
        label=DayType.WEEKDAY.label,
        required=False,
        max_length=1000,
        help_text="Bands like 07:00-22:00 0.32, 22:00-07:00 0.12 (price per kWh); an end before "
        "the start runs past midnight. Hours without a band keep the flat price.",
    )
    weekend = forms.CharField(label=DayType.WEEKEND.label, required=False, max_length=1000)

    def clean_weekday(self) -> list[BandSpec]:
        return parse_bands(self.cleaned_data["weekday"], DayType.WEEKDAY)

    def clean_weekend(self) -> list[BandSpec]:
        return parse_bands(self.cleaned_data["weekend"], DayType.WEEKEND)

    def bands(self) -> list[BandSpec]:
        return [*self.cleaned_data["weekday"], *self.cleaned_data["weekend"]]

    def start(self) -> datetime | None:
        return self.cleaned_data.get("effective_from")


class HolidayForm(forms.Form):
    """A local date that counts as a weekend day."""

    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label="Name", required=False, max_length=100)
