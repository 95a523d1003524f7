"""The Usage tab's energy over time: the chart of a period's hours or days, and its download."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.http import (
    Http404,
    HttpResponse,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views import View

from reporting.charts import bar_chart
from reporting.energy import Interval
from reporting.exports import ExportFormat
from reporting.forms import (
    UsageForm,
)
from reporting.hourly import EnergyRow, energy_rows
from reporting.periods import DateRange
from reporting.report_base import ExportMixin, InstallationReportMixin, export_response
from reporting.tables import (
    energy_table,
)

# The Usage tab's energy over time covers at most this many days (it reads meter values).
ENERGY_PAGE_MAX_DAYS = 93


def energy_span(view: InstallationReportMixin) -> tuple[DateRange, Interval] | None:
    """The local days of the page's period (today without one), per hour for one day, per day
    for more; None when the filters are invalid or the period is too long."""
    zone = view.zone()
    if view.form.is_bound and not view.form.is_valid():
        return None
    days = view.form.days(zone) if view.form.is_bound else None
    if days is None:
        today = timezone.now().astimezone(zone).date()
        days = DateRange(today, today)
    if (days.last - days.first).days >= ENERGY_PAGE_MAX_DAYS:
        return None
    return days, Interval.HOUR if days.first == days.last else Interval.DAY


def energy_of_page(view: InstallationReportMixin) -> tuple[list[EnergyRow], Interval] | None:
    span = energy_span(view)
    if span is None:
        return None
    days, interval = span
    start, end = days.instants(view.zone())
    # The period bounds the hours here, not the sessions' starts.
    sessions = replace(view.session_filter, start=None, end=None, days=None).apply(
        view.base_sessions()
    )
    return energy_rows(sessions, start, end, view.zone(), interval), interval


def energy_context(view: InstallationReportMixin) -> dict[str, Any]:
    found = energy_of_page(view)
    if found is None:
        return {"energy_chart": None}
    rows, interval = found
    zone = view.zone()
    labels = [f"{r.start.astimezone(zone):%H:%M}" for r in rows]
    if interval == Interval.DAY:
        labels = [f"{r.start.astimezone(zone):%d %b}" for r in rows]
    elif len(set(labels)) < len(labels):  # the repeated hour of an autumn night
        labels = [f"{r.start.astimezone(zone):%H:%M (%z)}" for r in rows]
    title = f"Energy delivered per {interval.value} (kWh)"
    points = [(label, r.energy_wh / 1000) for label, r in zip(labels, rows, strict=True)]
    query = view.filter_query()
    return {
        # bar_chart escapes every label it writes.
        "energy_chart": mark_safe(bar_chart(points, "kWh", title)),
        "energy_title": title,
        "energy_first": rows[0].start.astimezone(zone) if rows else None,
        "energy_last": rows[-1].start.astimezone(zone) if rows else None,
        "energy_wh": sum(r.energy_wh for r in rows),
        "energy_estimated_wh": sum(r.estimated_wh for r in rows),
        "energy_export_urls": {
            fmt.value: reverse("reporting:energy_export", args=[view.installation.pk, fmt.value])
            + (f"?{query}" if query else "")
            for fmt in ExportFormat
        },
    }


class InstallationEnergyExportView(ExportMixin, InstallationReportMixin, View):
    """The Usage tab's energy over time as CSV or Excel (per hour for a day, else per day)."""

    form_class = UsageForm
    export_url_name = "reporting:usage_export"

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        found = energy_of_page(self)
        if found is None:
            raise Http404("Choose a valid period of at most 93 days.")
        rows, interval = found
        table = energy_table(rows, interval, self.session_filter.labels, self.zone_name())
        return export_response(table, self.export_format(), f"{self.installation.name}-energy")
