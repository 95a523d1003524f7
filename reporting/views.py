"""Web pages of reporting: an installation's History tab (with its price) and Usage tab (with
energy over time), "My charging" for drivers, usage across installations for installers, and
their exports. A session in full: ``session_views``.

Every page starts from ``ChargeSession.objects.restrict(user, VIEW)``: an owner or installer sees
every session of their installations, a driver their own (on every installation, also one they
have left). The filters only narrow that set; an id that is not in it matches nothing.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import FormView, TemplateView

from chargers.models import ChargeSession
from installations.choices import Role
from installations.models import Membership
from installations.views import InstallationPageMixin
from portal.tenancy import Action
from portal.views import TenantMixin
from reporting import choices, jobs, services
from reporting.charts import bar_chart
from reporting.energy import Interval
from reporting.exports import ExportFormat, Table, write_csv, xlsx_file
from reporting.forms import (
    AcrossUsageForm,
    HistoryForm,
    PriceForm,
    SessionFilterForm,
    UsageForm,
    home_zone,
)
from reporting.hourly import EnergyRow, energy_rows
from reporting.models import DailyUsage, PricePeriod
from reporting.periods import DateRange
from reporting.queries import (
    CursorError,
    GroupBy,
    SessionFilter,
    keyset_page,
    with_facts,
)
from reporting.rollup import UsageSource
from reporting.tables import (
    KEY_TITLES,
    energy_table,
    export_filename,
    history_table,
    usage_table,
)


def export_response(table: Table, fmt: ExportFormat, stem: str) -> HttpResponse:
    """A streamed download of ``table``: CSV generated as it is sent, Excel from a temp file."""
    filename = export_filename(stem, fmt.value)
    if fmt == ExportFormat.CSV:
        response: HttpResponse = StreamingHttpResponse(
            write_csv(table), content_type=fmt.content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(
        xlsx_file(table), as_attachment=True, filename=filename, content_type=fmt.content_type
    )


class ReportMixin(TenantMixin):
    """Sessions the user may see, the filter form over them, and what the filters select."""

    form_class: ClassVar[type[SessionFilterForm]] = SessionFilterForm
    show_drivers: ClassVar[bool] = True
    show_installations: ClassVar[bool] = False

    def base_sessions(self) -> QuerySet[ChargeSession]:
        raise NotImplementedError

    def base_usage(self) -> QuerySet[DailyUsage]:
        """The daily rollup rows of the sessions of ``base_sessions`` (the same narrowing)."""
        raise NotImplementedError

    def zone(self) -> ZoneInfo | None:
        """The time zone of the page's periods; None: each session's own installation's."""
        return None

    def export_urls(self) -> dict[str, str]:
        """The page's CSV and Excel downloads, with its filters."""
        raise NotImplementedError

    @cached_property
    def today_zone(self) -> ZoneInfo:
        """Whose date is "today" for the named periods: the page's zone, or across installations
        the zone of the viewer's installations (not UTC's date, wrong for hours each night)."""
        return self.zone() or home_zone(self.request.user)  # type: ignore[attr-defined]

    def zone_name(self) -> str:
        zone = self.zone()
        return str(zone) if zone else ""

    def form_choices(self, sessions: QuerySet[ChargeSession]) -> dict[str, Any]:
        return choices.for_filters(
            sessions,
            installations=self.show_installations,
            drivers=self.show_drivers,
            usage=self.base_usage(),
        )

    @cached_property
    def form(self) -> SessionFilterForm:
        params = self.request.GET  # type: ignore[attr-defined]
        bound = any(params.get(name) for name in self.form_class.base_fields)
        return self.form_class(params if bound else None, **self.form_choices(self.base_sessions()))

    @cached_property
    def session_filter(self) -> SessionFilter:
        return self.form.session_filter(self.zone(), self.today_zone)

    @cached_property
    def usage_source(self) -> UsageSource:
        """What the totals and summaries add up: the rollup where the filters allow."""
        return UsageSource(
            sessions=self.base_sessions(),
            usage=self.base_usage(),
            session_filter=self.session_filter,
            zone=self.zone(),
            valid=not (self.form.is_bound and not self.form.is_valid()),
        )

    def selected(self) -> QuerySet[ChargeSession]:
        """The sessions the filters select (nothing when the filters are invalid)."""
        sessions = self.base_sessions()
        if self.form.is_bound and not self.form.is_valid():
            return sessions.none()
        return self.session_filter.apply(sessions)

    def filter_query(self, **extra: Any) -> str:
        params = {
            name: value
            for name in self.form_class.base_fields
            if (value := self.request.GET.get(name))  # type: ignore[attr-defined]
        }
        params.update({key: value for key, value in extra.items() if value})
        return urlencode(params)


class HistoryMixin(ReportMixin):
    """A history page: totals above, a keyset page of sessions newest first."""

    template_name = "reporting/history.html"
    form_class = HistoryForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        sessions = self.selected()
        cursor = self.request.GET.get("after", "")
        sort = self.form.order()  # type: ignore[attr-defined]
        try:
            page = keyset_page(with_facts(sessions), cursor or None, sort=sort)
        except CursorError:
            page = keyset_page(with_facts(sessions), sort=sort)
            cursor = ""
        context.update(
            form=self.form,
            sessions=page.rows,
            totals=self.usage_source.totals(),
            newest_url=f"?{self.filter_query()}" if cursor else None,
            older_url=f"?{self.filter_query(after=page.next_cursor)}" if page.next_cursor else None,
            export_urls=self.export_urls(),
            zone_name=self.zone_name(),
        )
        return context


class ExportMixin:
    """The ``fmt`` URL argument (csv or xlsx), and the download: streamed at once, or, with more
    than ``REPORT_EXPORT_SYNC_ROWS`` rows, written by a worker while the user follows the job's
    page (``reporting.jobs``). The worker builds the same export again through ``export_for``."""

    export_source: ClassVar[jobs.Source]

    def export_format(self) -> ExportFormat:
        try:
            return ExportFormat(self.kwargs["fmt"])  # type: ignore[attr-defined]
        except ValueError:
            raise Http404("Unknown export format.") from None

    def export(self) -> jobs.Export:
        raise NotImplementedError

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        fmt = self.export_format()
        export = self.export()
        if not jobs.is_large(export):
            return export_response(export.table, fmt, export.stem)
        job = jobs.start(
            request.user,
            self.export_source,
            fmt,
            arguments={key: value for key, value in self.kwargs.items() if key != "fmt"},  # type: ignore[attr-defined]
            parameters=self.export_parameters(),
            title=export.title or export.table.title,
        )
        return redirect("reporting:export_job", pk=job.pk)

    def export_parameters(self) -> dict[str, str]:
        """The filters of the page (valid: an invalid form selects nothing, a small export)."""
        form_class: type[SessionFilterForm] = self.form_class  # type: ignore[attr-defined]
        return {
            name: value
            for name in form_class.base_fields
            if (value := self.request.GET.get(name))  # type: ignore[attr-defined]
        }

    @classmethod
    def export_for(
        cls, user: Any, arguments: dict[str, Any], parameters: dict[str, str]
    ) -> jobs.Export:
        """The export as ``user`` would get it from this view with these filters (the worker)."""
        request = HttpRequest()
        request.method = "GET"
        request.user = user
        request.GET = QueryDict(mutable=True)
        request.GET.update(parameters)
        view = cls()
        view.setup(request, fmt=ExportFormat.CSV.value, **arguments)  # type: ignore[attr-defined]
        return view.export()


# ---------- one installation ----------


class InstallationReportMixin(ReportMixin, InstallationPageMixin):
    export_url_name: ClassVar[str] = ""

    def base_sessions(self) -> QuerySet[ChargeSession]:
        return self.restricted(ChargeSession).filter(charger__installation=self.installation)

    def base_usage(self) -> QuerySet[DailyUsage]:
        return self.restricted(DailyUsage).filter(installation=self.installation)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.installation.time_zone)

    @property
    def show_drivers(self) -> bool:  # type: ignore[override]
        return self.access.may_administer

    def export_urls(self) -> dict[str, str]:
        query = self.filter_query()
        return {
            fmt.value: reverse(self.export_url_name, args=[self.installation.pk, fmt.value])
            + (f"?{query}" if query else "")
            for fmt in ExportFormat
        }


class InstallationHistoryView(HistoryMixin, InstallationReportMixin, TemplateView):
    """The History tab: every session here (a driver: their own), filtered, with totals."""

    tab = "history"
    export_url_name = "reporting:history_export"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.access.may_administer:
            context.update(price_context(self.installation, self.restricted))
        return context


def price_context(installation: Any, restricted: Any) -> dict[str, Any]:
    now = timezone.now()
    periods = restricted(PricePeriod, Action.VIEW).filter(installation=installation)
    in_force = periods.filter(effective_from__lte=now).order_by("-effective_from").first()
    return {
        "price_now": in_force,
        "prices_scheduled": list(periods.filter(effective_from__gt=now).order_by("effective_from")),
        "prices_past": list(
            periods.filter(effective_from__lte=now).order_by("-effective_from")[1:6]
        ),
        "price_form": PriceForm(
            initial={
                "price_per_kwh": in_force.price_per_kwh if in_force else None,
                "currency": in_force.currency if in_force else installation.currency,
            }
        ),
    }


class InstallationHistoryExportView(ExportMixin, InstallationReportMixin, View):
    export_url_name = "reporting:history_export"
    export_source = jobs.Source.HISTORY

    def export(self) -> jobs.Export:
        sessions = self.selected()
        table = history_table(sessions, self.session_filter.labels, self.zone_name())
        export = sessions_export(table, f"{self.installation.name}-history", sessions)
        export.title = f"{table.title}, {self.installation.name}"
        return export


def sessions_export(table: Table, stem: str, sessions: QuerySet[ChargeSession]) -> jobs.Export:
    return jobs.Export(table, stem, lambda limit: jobs.count_rows(sessions, limit))


def rows_export(table: Table, stem: str, rows: list[Any]) -> jobs.Export:
    return jobs.Export(table, stem, lambda limit: len(rows))


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


class PriceCreateView(InstallationPageMixin, FormView):
    """A new price from a chosen time (owners and installers); history is never rewritten."""

    form_class = PriceForm
    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER
    template_name = "reporting/price_form.html"
    tab = "history"

    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        return redirect("reporting:history", pk=self.installation.pk)

    def post(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(ZoneInfo(self.installation.time_zone)):  # the form's local times
            return super().post(request, *args, **kwargs)

    def form_valid(self, form: PriceForm) -> HttpResponse:
        try:
            period = services.schedule_price(
                self.installation,
                price_per_kwh=form.cleaned_data["price_per_kwh"],
                currency=form.cleaned_data["currency"],
                effective_from=form.cleaned_data["effective_from"],
                user=self.request.user,  # type: ignore[arg-type]
            )
        except services.PriceError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        local = timezone.localtime(period.effective_from, ZoneInfo(self.installation.time_zone))
        messages.success(
            self.request,
            f"{period.price_per_kwh.normalize():f} {period.currency} per kWh from {local:%d %b %Y %H:%M}.",
        )
        return redirect("reporting:history", pk=self.installation.pk)


class PriceCancelView(InstallationPageMixin, View):
    """Cancel a scheduled price that has not begun (POST)."""

    installation_action = Action.ADMINISTER
    required_action = Action.ADMINISTER

    def post(self, request: Any, pk: int, period_pk: int) -> HttpResponse:
        period = get_object_or_404(
            self.restricted(PricePeriod).filter(installation=self.installation), pk=period_pk
        )
        try:
            services.cancel_price(period)
        except services.PriceError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The scheduled price was cancelled.")
        return redirect("reporting:history", pk=self.installation.pk)


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

    def export(self) -> jobs.Export:
        sessions = self.selected()
        table = history_table(sessions, self.session_filter.labels, "")
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
