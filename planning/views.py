"""The planning pages: an installation's Planning tab (a what-if on its history, with the
report's CSV and Excel export) and "Plan a new site".

The Planning tab is for owners and installers (``Action.OPERATE`` through the tenancy gate:
drivers and other tenants get a 404). The forms are GET forms: a report is computed, never
stored, so its URL (and the export links, the same URL with ``export=csv`` or ``xlsx``) can be
shared. Charts are server-rendered SVG (``reporting.charts``). A site larger than
``PLANNING_MAX_CHARGERS`` goes to a worker (``planning.jobs``): the page redirects to itself with
``job=<token>`` and refreshes until the report is there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.generic import TemplateView

from installations.models import Circuit
from installations.views import InstallationPageMixin
from planning import jobs, services
from planning.forms import NewSiteForm, PlanningForm, WhatIfForm
from planning.presets import PresetName
from portal.tenancy import Action
from reporting.charts import line_chart
from reporting.exports import ExportFormat
from reporting.report_base import export_response

CHART_DAY = datetime(2000, 1, 3, tzinfo=UTC)


class _Redirect(Exception):  # control flow: the page becomes a redirect
    """The run went to a worker: show its page."""


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
    """Runs the form's report on a bound, valid form (or reads the background run that
    ``?job=`` names); answers exports."""

    request: HttpRequest
    form: PlanningForm
    report: services.Report | None = None
    job: dict[str, Any] | None = None

    def run(self, form: PlanningForm) -> services.Report | None:
        raise NotImplementedError

    def start_job(self, form: PlanningForm) -> str:
        raise NotImplementedError

    def report_for(self, form: PlanningForm) -> services.Report | None:
        token = self.request.GET.get("job", "")
        if token:
            self.job = jobs.state(token, self.request.user)
            if self.job is None:
                raise Http404("No such planning run.")
            if self.job["status"] == jobs.JobStatus.FAILED and form.is_valid():
                form.add_problems(self.job.get("error") or {})
            return self.job.get("report")  # type: ignore[no-any-return]
        if not form.is_bound or not form.is_valid():
            return None
        try:
            return self.run(form)
        except services.PlanningError as error:
            form.add_problems(error.fields)
            return None
        except services.TooLargeToWait:
            query = self.request.GET.copy()
            query["job"] = self.start_job(form)
            raise _Redirect(f"{self.request.path}?{query.urlencode()}") from None

    def dispatch_report(self, form: PlanningForm, stem: str) -> HttpResponse | None:
        """The report (``self.report``), or the response that replaces the page."""
        try:
            self.report = self.report_for(form)
        except _Redirect as redirect_to:
            return redirect(str(redirect_to))
        return self.exported(self.report, stem)

    def report_context(self) -> dict[str, Any]:
        """The page's form, report (or background run) and charts, and the query for exports."""
        query = self.request.GET.copy()
        query.pop("export", None)
        return {
            "form": self.form,
            "report": self.report,
            "job": self.job,
            "charts": charts(self.report) if self.report else [],
            "query": query.urlencode(),
        }

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
        answer = self.dispatch_report(self.form, f"what-if-{self.installation.pk}")
        return answer or super().get(request, *args, **kwargs)

    def run(self, form: PlanningForm) -> services.Report:
        data = form.cleaned_data
        changes = services.changes_for(self.installation, data)
        self.asked_at = timezone.now()
        return services.what_if(
            self.installation, self.request.user, changes, days=data["days"], now=self.asked_at
        )

    def start_job(self, form: PlanningForm) -> str:
        data = form.cleaned_data
        changes = services.changes_for(self.installation, data)
        return jobs.start_what_if(
            self.request.user, self.installation, changes, data["days"], self.asked_at
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **self.report_context()}


class NewSiteView(ReportPageMixin, LoginRequiredMixin, TemplateView):
    """Plan a new site from a preset; reads no tenant data."""

    template_name = "planning/new_site.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        bound = "preset" in request.GET
        self.form = NewSiteForm(request.GET if bound else None)
        answer = self.dispatch_report(self.form, "new-site")
        return answer or super().get(request, *args, **kwargs)

    def plan(self, form: PlanningForm) -> services.NewSite:
        data = dict(form.cleaned_data)
        data["base_load_a"] = data.get("base_load_a") or 0.0
        return services.NewSite(
            preset=PresetName(data.pop("preset")),
            charger_phases=int(data.pop("charger_phases")),
            **data,
        )

    def run(self, form: PlanningForm) -> services.Report:
        return services.new_site(self.plan(form))

    def start_job(self, form: PlanningForm) -> str:
        return jobs.start_new_site(self.request.user, self.plan(form))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **self.report_context()}
