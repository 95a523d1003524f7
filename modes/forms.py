"""Forms of the charge-mode pages. They turn what a person types into what ``modes.services``
takes (kWh into Wh, a local time into an aware one, "22:00-06:00, 12:00-14:00" into windows);
every rule stays the service's, whose messages are shown by the field."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms

from modes.choices import ChargeMode, DayType
from modes.services import WindowSpec

WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")


class PlanForm(forms.Form):
    """A driver's choice for their session: Now, or By departure with a time and a need. The
    departure is a wall-clock time in the installation's time zone: the next time it comes
    (today, or tomorrow when it has passed)."""

    mode = forms.ChoiceField(
        choices=[(ChargeMode.NOW, "Now"), (ChargeMode.DEPARTURE, "By departure")],
        widget=forms.RadioSelect,
        initial=ChargeMode.DEPARTURE,
    )
    departure_time = forms.TimeField(
        label="Leaving at",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    energy_need_kwh = forms.DecimalField(
        label="Energy needed (kWh)",
        required=False,
        min_value=0,
        max_digits=6,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
    )
    target_soc_percent = forms.IntegerField(
        label="Or charge to (%)",
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, time_zone: str, reports_soc: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(time_zone)
        if not reports_soc:  # a target SoC needs the car's charge level from the charger
            del self.fields["target_soc_percent"]

    def departure_at(self, now: datetime) -> datetime | None:
        """The next time the chosen wall-clock time comes, aware."""
        chosen: time | None = self.cleaned_data.get("departure_time")
        if chosen is None:
            return None
        local_now = now.astimezone(self.zone)
        moment = datetime.combine(local_now.date(), chosen, tzinfo=self.zone)
        if moment <= local_now:
            moment = datetime.combine(local_now.date() + timedelta(days=1), chosen, self.zone)
        return moment

    def service_arguments(self, now: datetime) -> dict[str, Any]:
        """What ``services.set_session_plan`` takes."""
        data = self.cleaned_data
        if data["mode"] != ChargeMode.DEPARTURE:
            return {"mode": data["mode"]}
        kwh = data.get("energy_need_kwh")
        soc = data.get("target_soc_percent")
        return {
            "mode": data["mode"],
            "departure_at": self.departure_at(now),
            "energy_need_wh": float(kwh) * 1000 if kwh is not None else None,
            "target_soc_percent": soc,
        }

    # The service's field names and this form's.
    FIELD_OF = {
        "departure_at": "departure_time",
        "energy_need_wh": "energy_need_kwh",
        "target_soc_percent": "target_soc_percent",
        "mode": "mode",
    }


class ChargerModesForm(forms.Form):
    """Set the default mode of the chosen chargers at once."""

    mode = forms.ChoiceField(
        label="Default mode",
        choices=[(value, label) for value, label in ChargeMode.choices if value != "departure"],
    )
    chargers = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple)  # type: ignore[arg-type]

    def __init__(self, *args: Any, chargers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chargers"].queryset = chargers
        self.fields["chargers"].error_messages["required"] = "Choose at least one charger."


def parse_windows(text: str, day_type: str) -> list[WindowSpec]:
    """ "22:00-06:00, 12:00-14:00" -> windows; raises ValidationError naming the bad part."""
    specs = []
    for part in filter(None, (piece.strip() for piece in re.split(r"[,;\n]", text or ""))):
        match = WINDOW.match(part)
        if match is None:
            raise forms.ValidationError(f"“{part}” is not a window: write it as 22:00-06:00.")
        hour1, minute1, hour2, minute2 = (int(group) for group in match.groups())
        if hour1 > 23 or hour2 > 23 or minute1 > 59 or minute2 > 59:
            raise forms.ValidationError(f"“{part}” is not a time of day.")
        specs.append(WindowSpec(day_type, time(hour1, minute1), time(hour2, minute2)))
    return specs


def windows_text(windows: list[Any], day_type: str) -> str:
    """The windows of one kind of day as the form shows them."""
    return ", ".join(
        f"{window.start_time:%H:%M}-{window.end_time:%H:%M}"
        for window in windows
        if window.day_type == day_type
    )


class WindowsForm(forms.Form):
    """The allowed hours of the installation or one charger, one line per kind of day."""

    weekday = forms.CharField(
        label=DayType.WEEKDAY.label,
        required=False,
        max_length=500,
        help_text="Windows like 22:00-06:00, 12:00-14:00; an end before the start runs past "
        "midnight. Empty: no charging on these days (when the other line has windows).",
    )
    weekend = forms.CharField(label=DayType.WEEKEND.label, required=False, max_length=500)

    def clean_weekday(self) -> list[WindowSpec]:
        return parse_windows(self.cleaned_data["weekday"], DayType.WEEKDAY)

    def clean_weekend(self) -> list[WindowSpec]:
        return parse_windows(self.cleaned_data["weekend"], DayType.WEEKEND)

    def specs(self) -> list[WindowSpec]:
        return [*self.cleaned_data["weekday"], *self.cleaned_data["weekend"]]


class SurplusForm(forms.Form):
    """How surplus-mode cars start and stop."""

    start_after_minutes = forms.IntegerField(
        label="Start after (minutes)",
        help_text="A waiting car starts once the surplus has covered its minimum this long.",
    )
    stop_after_minutes = forms.IntegerField(
        label="Stop after (minutes)",
        help_text="A car stops once the surplus has fallen short this long.",
    )
    one_phase_at_low_surplus = forms.BooleanField(
        label="One phase at low surplus (chargers that can switch phases)", required=False
    )
