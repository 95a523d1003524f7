"""What every reporting page stands on: the sessions a user may see and the filter form over them
(``ReportMixin``), a history's keyset page (``HistoryMixin``), downloads that stream or become a
job (``ExportMixin``), an installation's report pages (``InstallationReportMixin``).

Every page starts from ``ChargeSession.objects.restrict(user, VIEW)``: an owner or installer sees
every session of their installations, a driver their own (on every installation, also one they
have left). The filters only narrow that set; an id that is not in it matches nothing.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.urls import reverse

from chargers.models import ChargeSession
from installations.views import InstallationPageMixin
from portal.views import TenantMixin
from reporting import choices, jobs
from reporting.exports import ExportFormat, Table, write_csv, xlsx_file
from reporting.forms import (
    HistoryForm,
    SessionFilterForm,
    home_zone,
)
from reporting.models import DailyUsage
from reporting.queries import (
    CursorError,
    SessionFilter,
    keyset_page,
    with_facts,
)
from reporting.rollup import UsageSource
from reporting.tables import (
    export_filename,
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


def sessions_export(table: Table, stem: str, sessions: QuerySet[ChargeSession]) -> jobs.Export:
    return jobs.Export(table, stem, lambda limit: jobs.count_rows(sessions, limit))


def rows_export(table: Table, stem: str, rows: list[Any]) -> jobs.Export:
    return jobs.Export(table, stem, lambda limit: len(rows))
