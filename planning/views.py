"""The planning pages: an installation's Planning tab (a what-if on its history, with the
report's CSV and Excel export) and "Plan a new site".

The Planning tab is for owners and installers (``Action.OPERATE`` through the tenancy gate:
drivers and other tenants get a 404). The forms are GET forms: a report is computed, never
stored, so its URL (and the export links, the same URL with ``export=csv`` or ``xlsx``) can be
shared. Charts are server-rendered SVG (``reporting.charts``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import mark_safe
from django.views.generic import TemplateView

from installations.models import Circuit
from installations.views import InstallationPageMixin
from planning import services
from planning.forms import NewSiteForm, PlanningForm, WhatIfForm
from planning.presets import PresetName
from portal.tenancy import Action
from reporting.charts import line_chart
from reporting.exports import ExportFormat
from reporting.report_base import export_response

CHART_DAY = datetime(2000, 1, 3, tzinfo=UTC)


def charts(report: services.Report) -> list[dict[str, Any]]:
    """Per scenario, its average day at the main fuse as an SVG line chart (the local time of
    day on a fixed UTC day, so the axis reads as wall-clock times)."""
    found = []
    for scenario in report.scenarios:
        points = [
            (CHART_DAY + timedelta(seconds=slot), amps)
            for slot, amps in scenario.outcome.day_profile_a
        ]
        title = f"{scenario.label}: average load over a day, busiest phase of the main fuse"
        found.append(
            {
                "label": scenario.label,
                "svg": mark_safe(line_chart(points, "A", title, UTC, area=True)),
            }
        )
    return found


class ReportPageMixin:
    """Runs the form's report on a bound, valid form; answers exports."""

    request: HttpRequest

    def run(self, form: PlanningForm) -> services.Report | None:
        raise NotImplementedError

    def report_for(self, form: PlanningForm) -> services.Report | None:
        if not form.is_bound or not form.is_valid():
            return None
        try:
            return self.run(form)
        except services.PlanningError as error:
            form.add_problems(error.fields)
            return None

    def exported(self, report: services.Report | None, stem: str) -> HttpResponse | None:
        wanted = self.request.GET.get("export", "")
        if report is None or wanted not in {fmt.value for fmt in ExportFormat}:
            return None
        return export_response(report.table(), ExportFormat(wanted), stem)


class PlanningView(ReportPageMixin, InstallationPageMixin, TemplateView):
    """The installation's Planning tab: today against a changed setup, from its history."""

    template_name = "planning/installation.html"
    installation_action = Action.OPERATE
    required_action = Action.OPERATE
    tab = "planning"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        circuits = self.restricted(Circuit).filter(installation=self.installation)
        bound = "days" in request.GET
        self.form = WhatIfForm(request.GET if bound else None, circuits=circuits)
        self.report = self.report_for(self.form)
        exported = self.exported(self.report, f"what-if-{self.installation.pk}")
        if exported is not None:
            return exported
        return super().get(request, *args, **kwargs)

    def run(self, form: PlanningForm) -> services.Report:
        data = form.cleaned_data
        changes = services.changes_for(self.installation, data)
        return services.what_if(self.installation, self.request.user, changes, days=data["days"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("export", None)
        context.update(
            form=self.form,
            report=self.report,
            charts=charts(self.report) if self.report else [],
            query=query.urlencode(),
        )
        return context


class NewSiteView(ReportPageMixin, LoginRequiredMixin, TemplateView):
    """Plan a new site from a preset; reads no tenant data."""

    template_name = "planning/new_site.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bound = "preset" in request.GET
        self.form = NewSiteForm(request.GET if bound else None)
        self.report = self.report_for(self.form)
        exported = self.exported(self.report, "new-site")
        if exported is not None:
            return exported
        return super().get(request, *args, **kwargs)

    def run(self, form: PlanningForm) -> services.Report:
        data = dict(form.cleaned_data)
        data["base_load_a"] = data.get("base_load_a") or 0.0
        plan = services.NewSite(
            preset=PresetName(data.pop("preset")),
            charger_phases=int(data.pop("charger_phases")),
            **data,
        )
        return services.new_site(plan)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        query.pop("export", None)
        context.update(
            form=self.form,
            report=self.report,
            charts=charts(self.report) if self.report else [],
            query=query.urlencode(),
        )
        return context
