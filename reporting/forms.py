"""Forms of the reporting pages: the history/usage filter (GET) and a new price (POST)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Count
from django.utils import timezone

from chargers.choices import SessionStatus
from installations.models import Installation
from portal.tenancy import Action
from reporting.models import validate_currency
from reporting.periods import DateRange, Period, days_of
from reporting.queries import GroupBy, SessionFilter, Sort

Choices = Sequence[tuple[Any, str]]

# The longest custom range a page or the API accepts (about ten years).
MAX_RANGE_DAYS = 3660
FILTER_NAMES = (
    "installation",
    "charger",
    "driver",
    "card",
    "status",
    "period",
    "first",
    "last",
    "q",
)


def home_zone(user: Any) -> ZoneInfo:
    """The time zone whose date is "today" for ``user`` on pages across installations: the zone
    most of the installations they may see use (UTC when they see none)."""
    zones = (
        Installation.objects.restrict(user, Action.VIEW)
        .values("time_zone")
        .annotate(n=Count("id"))
        .order_by("-n", "time_zone")
        .values_list("time_zone", flat=True)
    )
    return ZoneInfo(zones.first() or "UTC")


class SessionFilterForm(forms.Form):
    """Which sessions a history, a summary or an export covers (GET parameters)."""

    installation = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    charger = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    driver = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    card = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *SessionStatus.choices])
    period = forms.ChoiceField(
        required=False,
        choices=[("", "All time"), *((p.value, p.label) for p in Period)],
    )
    first = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    last = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Card or driver"}),
    )

    def __init__(
        self,
        *args: Any,
        installations: Choices | None = None,
        chargers: Choices = (),
        drivers: Choices | None = None,
        cards: Choices = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if installations is None:
            del self.fields["installation"]
        else:
            self.fields["installation"].choices = [("", "All installations"), *installations]  # type: ignore[attr-defined]
        self.fields["charger"].choices = [("", "All chargers"), *chargers]  # type: ignore[attr-defined]
        if drivers is None:
            del self.fields["driver"]
        else:
            self.fields["driver"].choices = [("", "All drivers"), *drivers]  # type: ignore[attr-defined]
        self.fields["card"].choices = [("", "All cards"), *cards]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        first, last = cleaned.get("first"), cleaned.get("last")
        if first or last:
            cleaned["period"] = Period.CUSTOM.value
        if cleaned.get("period") == Period.CUSTOM:
            if not first:
                self.add_error("first", "Choose the first day of the range.")
            if not last:
                self.add_error("last", "Choose the last day of the range.")
            if first and last and last < first:
                self.add_error("last", "The range ends before it starts.")
            elif first and last and (last - first).days > MAX_RANGE_DAYS:
                self.add_error("last", f"Choose a range of at most {MAX_RANGE_DAYS} days.")
        return cleaned

    def days(self, zone: ZoneInfo, now: datetime | None = None) -> DateRange | None:
        data = self.cleaned_data
        if not data.get("period"):
            return None
        today = (now or timezone.now()).astimezone(zone).date()
        return days_of(Period(data["period"]), today, data.get("first"), data.get("last"))

    def session_filter(
        self, zone: ZoneInfo | None, today_zone: ZoneInfo | None = None, **fixed: Any
    ) -> SessionFilter:
        """The filter; ``zone`` None: local days in each session's own installation time zone,
        with "today" (and so this week, last month...) the date in ``today_zone`` (the viewer's
        installations' zone, see ``home_zone``), never simply UTC's date."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        days = self.days(zone or today_zone or ZoneInfo("UTC")) if data else None
        start = end = None
        if days is not None and zone is not None:
            start, end = days.instants(zone)
        values: dict[str, Any] = {
            "installation_id": data.get("installation"),
            "charger_id": data.get("charger"),
            "user_id": data.get("driver"),
            "card_id": data.get("card"),
            "status": data.get("status") or None,
            "start": start,
            "end": end,
            "days": days if zone is None else None,
            "search": data.get("q") or "",
        }
        values.update(fixed)
        return SessionFilter(**values, labels=self.labels())

    def labels(self) -> dict[str, str]:
        """The active filters in words (the export's filter sheet)."""
        if not (self.is_bound and self.is_valid()):
            return {}
        words: dict[str, str] = {}
        for name, bound in self.fields.items():
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            if isinstance(bound, forms.ChoiceField):
                value = dict((str(k), v) for k, v in bound.choices).get(str(value), value)  # type: ignore[attr-defined]
            words[str(bound.label or name.capitalize())] = str(value)
        return words

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in FILTER_NAMES)


class HistoryForm(SessionFilterForm):
    """A history: the filters, and the order of its rows."""

    sort = forms.ChoiceField(
        required=False,
        label="Sort",
        choices=[(sort.value, sort.label) for sort in Sort],
    )

    def order(self) -> Sort:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return Sort(data.get("sort") or Sort.NEWEST)


class UsageForm(SessionFilterForm):
    """A summary: the filters, and what it has one row per."""

    group_by = forms.ChoiceField(
        required=False,
        label="Sum per",
        choices=[
            (GroupBy.USER.value, "Driver"),
            (GroupBy.CARD.value, "Card"),
            (GroupBy.CHARGER.value, "Charger"),
            (GroupBy.DAY.value, "Day"),
            (GroupBy.WEEK.value, "Week"),
            (GroupBy.MONTH.value, "Month"),
        ],
    )

    default_group: GroupBy = GroupBy.DAY

    def group(self) -> GroupBy:
        value = self.cleaned_data.get("group_by") if self.is_bound and self.is_valid() else None
        return GroupBy(value or self.default_group)


class AcrossUsageForm(UsageForm):
    """A summary across the installations one serves: per installation unless told otherwise."""

    default_group = GroupBy.INSTALLATION

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group_by"].choices = [  # type: ignore[attr-defined]
            (GroupBy.INSTALLATION.value, "Installation"),
            *self.fields["group_by"].choices,  # type: ignore[attr-defined]
        ]


class PriceForm(forms.Form):
    """A new price from a chosen time (local time of the installation; empty: now)."""

    price_per_kwh = forms.DecimalField(
        label="Price per kWh", min_value=Decimal(0), max_digits=8, decimal_places=4
    )
    currency = forms.CharField(
        max_length=3,
        widget=forms.TextInput(attrs={"maxlength": 3, "autocapitalize": "characters"}),
    )
    effective_from = forms.DateTimeField(
        label="From",
        required=False,
        help_text="Empty: now. A new price never starts in the past.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        validate_currency(currency)
        return currency
