"""The installation's Prices tab (owners and installers): the tariff in force and the scheduled
ones as 24-hour bars, a form for a new tariff, holidays, and the prices of today and tomorrow
hour by hour (day-ahead, tariff or flat) as a chart and a table. Every change goes through
``tariffs.services``; POSTs carry ``form``: ``tariff``, ``cancel``, ``holiday`` or ``unholiday``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from installations.views import InstallationPageMixin
from portal.tenancy import Action
from reporting.models import PricePeriod
from tariffs import bands as band_rules
from tariffs import services
from tariffs.choices import DayType, PriceSource
from tariffs.forms import HolidayForm, TariffForm, bands_text
from tariffs.models import Holiday, Tariff
from tariffs.prices import price_slots


@dataclass(frozen=True)
class Segment:
    """A band on a 24-hour bar: left and width in % of the day."""

    left: float
    width: float
    label: str


@dataclass(frozen=True)
class DayBar:
    label: str
    segments: list[Segment]


@dataclass(frozen=True)
class HourBar:
    """One slot of the price chart: its height in % of the largest price (negative: below)."""

    start: datetime
    end: datetime
    price: Decimal
    currency: str
    source: str
    height: float
    negative: bool


def day_bars(tariff: Tariff) -> list[DayBar]:
    """The tariff's bands per kind of day as segments of a 24-hour bar (a band past midnight is
    drawn in two pieces)."""
    bars = []
    for day_type in DayType:
        segments = []
        for band in tariff.bands.all():
            if band.day_type != day_type:
                continue
            label = (
                f"{band.start_time:%H:%M}-{band.end_time:%H:%M} {band.price_per_kwh.normalize():f}"
            )
            for low, high in band_rules.band_minutes(band.start_time, band.end_time):
                segments.append(
                    Segment(
                        round(low / band_rules.DAY_MINUTES * 100, 2),
                        round((high - low) / band_rules.DAY_MINUTES * 100, 2),
                        label,
                    )
                )
        bars.append(DayBar(day_type.label, sorted(segments, key=lambda s: s.left)))
    return bars


def hour_bars(installation: Any, now: datetime) -> list[HourBar]:
    """Today and tomorrow (the installation's local days), one bar per price slot."""
    zone = ZoneInfo(installation.time_zone)
    midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    end = midnight + timedelta(days=2)  # wall-clock arithmetic: two local days, DST or not
    slots = [s for s in price_slots(installation, midnight, end) if s.price_per_kwh is not None]
    largest = max((abs(s.price_per_kwh) for s in slots), default=Decimal(0))  # type: ignore[arg-type]
    return [
        HourBar(
            slot.start.astimezone(zone),
            slot.end.astimezone(zone),
            slot.price_per_kwh,  # type: ignore[arg-type]
            slot.currency,
            PriceSource(slot.source).label,
            round(float(abs(slot.price_per_kwh) / largest) * 100, 1) if largest else 0.0,  # type: ignore[arg-type]
            slot.price_per_kwh < 0,  # type: ignore[operator]
        )
        for slot in slots
    ]


class PricesView(InstallationPageMixin, TemplateView):
    """The Prices tab (owners and installers; drivers and other tenants get a 404)."""

    template_name = "tariffs/prices.html"
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    tab = "prices"

    def url(self, anchor: str = "") -> str:
        target = reverse("tariffs:prices", args=[self.installation.pk])
        return f"{target}#{anchor}" if anchor else target

    def tariffs(self) -> Any:
        return self.restricted(Tariff).filter(installation=self.installation)

    @cached_property
    def tariff_list(self) -> list[Tariff]:
        """The installation's tariffs with their bands, newest first (one read per request)."""
        return list(self.tariffs().prefetch_related("bands").order_by("-effective_from"))

    @cached_property
    def current_tariff(self) -> Tariff | None:
        now = timezone.now()
        return next((t for t in self.tariff_list if t.effective_from <= now), None)

    def forms(self, posted: str | None = None) -> dict[str, Any]:
        data = self.request.POST if posted else None
        current = self.current_tariff
        initial = {"currency": current.currency if current else self.installation.currency}
        if current is not None:
            initial |= {
                "weekday": bands_text(current.bands.all(), DayType.WEEKDAY),
                "weekend": bands_text(current.bands.all(), DayType.WEEKEND),
                "name": current.name,
            }
        return {
            "tariff_form": TariffForm(data if posted == "tariff" else None, initial=initial),
            "holiday_form": HolidayForm(data if posted == "holiday" else None),
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "tariff_form" not in context:
            context.update(self.forms())
        now = timezone.now()
        tariffs = self.tariff_list
        current = self.current_tariff
        flat = (
            self.restricted(PricePeriod, Action.VIEW)
            .filter(installation=self.installation, effective_from__lte=now)
            .order_by("-effective_from")
            .first()
        )
        today = services.local_today(self.installation, now)
        context.update(
            current=(current, day_bars(current)) if current else None,
            scheduled=[(t, day_bars(t)) for t in reversed(tariffs) if t.effective_from > now],
            past=[t for t in tariffs if t.effective_from <= now and t is not current][:5],
            flat=flat,
            holidays=list(
                self.restricted(Holiday).filter(installation=self.installation, date__gte=today)
            ),
            hours=hour_bars(self.installation, now),
            zone_name=self.installation.time_zone,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        posted = request.POST.get("form", "")
        if posted in ("cancel", "unholiday"):
            return self.remove(request, posted)
        if posted not in ("tariff", "holiday"):
            messages.error(request, "Unknown form.")
            return redirect(self.url())
        with timezone.override(ZoneInfo(self.installation.time_zone)):  # the form's local times
            forms = self.forms(posted)
            form = forms[f"{posted}_form"]
            if form.is_valid():
                try:
                    done = self.save_tariff(form) if posted == "tariff" else self.save_holiday(form)
                except ValidationError as error:
                    for name, problems in error.message_dict.items():
                        field = {"bands": "weekday"}.get(name, name)
                        if field.startswith("bands["):
                            field = self.band_field(form, field)
                        form.add_error(field if field in form.fields else None, problems)
                else:
                    messages.success(request, done)
                    return redirect(self.url(posted))
        return self.render_to_response(self.get_context_data(**forms), status=400)

    @staticmethod
    def band_field(form: TariffForm, key: str) -> str:
        """``bands[i]`` (the service's key) as the form line that holds band i."""
        index = int(key[len("bands[") : -1])
        return "weekday" if index < len(form.cleaned_data["weekday"]) else "weekend"

    def save_tariff(self, form: TariffForm) -> str:
        tariff = services.save_tariff(
            self.installation,
            currency=form.cleaned_data["currency"],
            bands=form.bands(),
            effective_from=form.start(),
            name=form.cleaned_data["name"],
            user=self.request.user,  # type: ignore[arg-type]
        )
        local = timezone.localtime(tariff.effective_from, ZoneInfo(self.installation.time_zone))
        if not form.bands():
            return f"From {local:%d %b %Y %H:%M} the flat price applies again."
        return f"The tariff applies from {local:%d %b %Y %H:%M}."

    def save_holiday(self, form: HolidayForm) -> str:
        holiday = services.add_holiday(
            self.installation, form.cleaned_data["date"], form.cleaned_data["name"]
        )
        return f"{holiday.date:%d %b %Y} counts as a weekend day."

    def remove(self, request: HttpRequest, posted: str) -> HttpResponse:
        wanted = request.POST.get("id", "")
        if not wanted.isdigit():
            messages.error(request, "Nothing chosen.")
            return redirect(self.url())
        try:
            if posted == "cancel":
                tariff = get_object_or_404(self.tariffs(), pk=int(wanted))
                services.cancel_tariff(tariff)
                messages.success(request, "The scheduled tariff was cancelled.")
            else:
                holidays = self.restricted(Holiday).filter(installation=self.installation)
                holiday = get_object_or_404(holidays, pk=int(wanted))
                services.remove_holiday(holiday)
                messages.success(request, f"{holiday.date:%d %b %Y} is no longer a holiday.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect(self.url("tariff" if posted == "cancel" else "holiday"))
