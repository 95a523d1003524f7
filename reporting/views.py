"""Web pages of reporting: an installation's History tab and Usage tab (its energy over time:
``energy_views``; its price: ``price_views``), "My charging" for drivers, usage across
installations for installers, and their exports. What they stand on: ``report_base``. A session
in full: ``session_views``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import TemplateView

from chargers.models import ChargeSession
from installations.choices import Role
from installations.models import Membership
from reporting import jobs
from reporting.charts import bar_chart
from reporting.energy_views import energy_context
from reporting.exports import ExportFormat
from reporting.forms import (
    AcrossUsageForm,
    HistoryForm,
    UsageForm,
)
from reporting.models import DailyUsage
from reporting.price_views import price_context
from reporting.queries import (
    GroupBy,
)
from reporting.report_base import (
    ExportMixin,
    HistoryMixin,
    InstallationReportMixin,
    ReportMixin,
    rows_export,
    sessions_export,
)
from reporting.tables import (
    KEY_TITLES,
    history_table,
    usage_table,
)


class InstallationHistoryView(HistoryMixin, InstallationReportMixin, TemplateView):
    """The History tab: every session here (a driver: their own), filtered, with totals."""

    tab = "history"
    export_url_name = "reporting:history_export"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.access.may_administer:
            context.update(price_context(self.installation, self.restricted))
        return context


class InstallationHistoryExportView(ExportMixin, InstallationReportMixin, View):
    export_url_name = "reporting:history_export"
    export_source = jobs.Source.HISTORY
    form_class = HistoryForm  # the page's filters and its order

    def export(self) -> jobs.Export:
        sessions = self.selected()
        sort = self.form.order()  # type: ignore[attr-defined]
        table = history_table(sessions, self.session_filter.labels, self.zone_name(), sort)
        export = sessions_export(table, f"{self.installation.name}-history", sessions)
        export.title = f"{table.title}, {self.installation.name}"
        return export


class InstallationUsageView(InstallationReportMixin, TemplateView):
    """The Usage tab (the billing view): sums per driver, card, charger, day, week or month."""

    form_class = UsageForm
    template_name = "reporting/usage.html"
    tab = "usage"
    export_url_name = "reporting:usage_export"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(usage_context(self, across=False))
        context.update(energy_context(self))
        return context


def usage_context(view: ReportMixin, across: bool) -> dict[str, Any]:
    group_by = view.form.group()  # type: ignore[attr-defined]
    zone = view.today_zone
    days = view.form.days(zone) if view.form.is_bound and view.form.is_valid() else None
    rows, (series_by, points) = view.usage_source.summary_and_series(group_by, days)
    title = f"Energy per {'day' if series_by == GroupBy.DAY else 'month'} (kWh)"
    return {
        "form": view.form,
        "rows": rows,
        "group_by": group_by,
        "key_title": KEY_TITLES[group_by],
        "totals": view.usage_source.totals(),
        # bar_chart escapes every label it writes.
        "chart": mark_safe(bar_chart(points, "kWh", title)) if points else None,
        "chart_title": title,
        "export_urls": view.export_urls(),  # type: ignore[attr-defined]
        "zone_name": view.zone_name(),
        "across": across,
    }


class InstallationUsageExportView(ExportMixin, InstallationReportMixin, View):
    form_class = UsageForm
    export_url_name = "reporting:usage_export"
    export_source = jobs.Source.USAGE

    def export(self) -> jobs.Export:
        group_by = self.form.group()  # type: ignore[attr-defined]
        rows = self.usage_source.summarise(group_by)
        table = usage_table(rows, group_by, self.session_filter.labels, self.zone_name())
        export = rows_export(table, f"{self.installation.name}-usage", rows)
        export.title = f"{table.title}, {self.installation.name}"
        return export


# ---------- across installations ----------


class MyChargingMixin(ReportMixin):
    """A user's own sessions, on every installation where they charged (also one they left)."""

    show_drivers = False
    show_installations = True

    def base_sessions(self) -> QuerySet[ChargeSession]:
        return self.restricted(ChargeSession).filter(user=self.request.user)  # type: ignore[attr-defined]

    def base_usage(self) -> QuerySet[DailyUsage]:
        return self.restricted(DailyUsage).filter(user=self.request.user)  # type: ignore[attr-defined]

    def export_urls(self) -> dict[str, str]:
        query = self.filter_query()
        return {
            fmt.value: reverse("reporting:my_export", args=[fmt.value])
            + (f"?{query}" if query else "")
            for fmt in ExportFormat
        }


class MyChargingView(HistoryMixin, MyChargingMixin, TemplateView):
    template_name = "reporting/my_charging.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["nav_section"] = "charging"
        return context


class MyChargingExportView(ExportMixin, MyChargingMixin, View):
    export_source = jobs.Source.MY_CHARGING
    form_class = HistoryForm

    def export(self) -> jobs.Export:
        sessions = self.selected()
        table = history_table(sessions, self.session_filter.labels, "", self.form.order())  # type: ignore[attr-defined]
        return sessions_export(table, "my-charging", sessions)


class UsageAcrossMixin(ReportMixin):
    """Usage of every installation the user serves (owner or installer), per installation."""

    form_class = AcrossUsageForm
    show_installations = True

    def base_sessions(self) -> QuerySet[ChargeSession]:
        managed = (
            self.restricted(Membership)
            .filter(user=self.request.user, role__in=[Role.OWNER, Role.INSTALLER])  # type: ignore[attr-defined]
            .values("installation_id")
        )
        sessions = self.restricted(ChargeSession)
        if self.request.user.is_superuser:  # type: ignore[attr-defined]
            return sessions
        return sessions.filter(charger__installation__in=managed)

    def base_usage(self) -> QuerySet[DailyUsage]:
        usage = self.restricted(DailyUsage)
        if self.request.user.is_superuser:  # type: ignore[attr-defined]
            return usage
        # The ids themselves, not a subquery: with the subquery PostgreSQL expected ten times
        # the rows and walked the rollup by index, installation by installation.
        managed = (
            self.restricted(Membership)
            .filter(user=self.request.user, role__in=[Role.OWNER, Role.INSTALLER])  # type: ignore[attr-defined]
            .values_list("installation_id", flat=True)
        )
        return usage.filter(installation__in=list(managed))

    def export_urls(self) -> dict[str, str]:
        query = self.filter_query()
        return {
            fmt.value: reverse("reporting:across_export", args=[fmt.value])
            + (f"?{query}" if query else "")
            for fmt in ExportFormat
        }


class UsageAcrossView(UsageAcrossMixin, TemplateView):
    template_name = "reporting/usage_across.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(usage_context(self, across=True))
        context["nav_section"] = "usage"
        return context


class UsageAcrossExportView(ExportMixin, UsageAcrossMixin, View):
    export_source = jobs.Source.ACROSS

    def export(self) -> jobs.Export:
        group_by = self.form.group()  # type: ignore[attr-defined]
        rows = self.usage_source.summarise(group_by)
        table = usage_table(rows, group_by, self.session_filter.labels, "")
        return rows_export(table, "usage", rows)
