"""The reporting API: usage summaries, exports, and the price history. Every endpoint goes
through the tenancy gate (``TenantViewSetMixin``), like every other resource."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from chargers.models import ChargeSession
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action
from reporting import jobs
from reporting.api.params import EnergyParams, ExportParams, UsageParams
from reporting.api.serializers import (
    EnergyReportSerializer,
    ExportJobSerializer,
    PricePeriodSerializer,
    SessionEnergySerializer,
    SignedValueSerializer,
    UsageReportSerializer,
)
from reporting.detail import session_detail, signed_values
from reporting.energy import Interval
from reporting.exports import ExportFormat
from reporting.hourly import energy_rows
from reporting.job_views import download
from reporting.meter import session_end
from reporting.models import DailyUsage, ExportJob, PricePeriod
from reporting.queries import GroupBy
from reporting.report_base import export_response, rows_export, sessions_export
from reporting.rollup import UsageSource
from reporting.session_views import SIGNED_TYPES, signed_download
from reporting.tables import energy_table, history_table, usage_table

UTC = ZoneInfo("UTC")
API_CURVE_POINTS = 2000
MAX_CURVE_POINTS = 10_000


class UsageReportViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """Usage summaries: sessions, energy, connected/charging/idle time and cost per user, card,
    charger, day, week, month or installation, over ``[from, to)`` (default: the last 31 days).

    Rows are per installation and currency as well; days, weeks (from Monday) and months are
    local to each installation, and a session counts where it started. Per day, at most 400 days.
    """

    queryset = ChargeSession.objects.all()
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(parameters=[UsageParams], responses={200: UsageReportSerializer})
    def list(self, request: Request) -> Response:
        params = UsageParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        sessions = self.filter_queryset(self.get_queryset())
        source = usage_source(request.user, sessions, params)
        group_by = GroupBy(params.validated_data["group_by"])
        results = source.summarise(group_by)
        body = {
            "group_by": group_by.value,
            "from": params.validated_data["start"],
            "to": params.validated_data["end"],
            "results": results,
            "totals": source.totals(),
        }
        return Response(UsageReportSerializer(body).data)


class FormatIsAParameter(DefaultContentNegotiation):
    """``?format=`` names the export's file format here, not DRF's renderer: errors are JSON."""

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: Any = None
    ) -> Any:
        renderer = renderers[0]
        return renderer, renderer.media_type


class ExportViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """Download sessions (``kind=sessions``) or a usage summary (``kind=usage``, ``group_by``) as
    CSV or Excel, with the filters of the session list and usage report. An export with no rows is
    a valid file with its header. Text that would start a formula is neutralised.

    Up to ``REPORT_EXPORT_SYNC_ROWS`` rows (20,000 by default) the file is streamed at once
    (200). A larger export answers 202 with the job (``Location`` and the body's ``url``): a
    worker writes the file; ``GET`` the job for its progress and, when done, its
    ``download_url`` (kept for a day)."""

    queryset = ChargeSession.objects.all()
    pagination_class = None
    filter_backends: list[Any] = []
    content_negotiation_class = FormatIsAParameter

    @extend_schema(
        parameters=[ExportParams],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, ExportFormat.XLSX.content_type): OpenApiResponse(OpenApiTypes.BINARY),
            (202, "application/json"): OpenApiResponse(
                ExportJobSerializer, description="A large export: the job writing it."
            ),
        },
    )
    def list(self, request: Request) -> Any:
        params = ExportParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        sessions = self.filter_queryset(self.get_queryset())
        export = build_export(request.user, sessions, params)
        fmt = ExportFormat(params.validated_data["format"])
        if not jobs.is_large(export):
            return export_response(export.table, fmt, export.stem)
        job = jobs.start(
            request.user,
            jobs.Source.API,
            fmt,
            arguments={},
            parameters={
                key: value for key, value in request.query_params.items() if key in params.fields
            },
            title=export.table.title,
        )
        body = ExportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    @classmethod
    def export_for(
        cls, user: Any, arguments: dict[str, Any], parameters: dict[str, str]
    ) -> jobs.Export:
        """The export as ``user`` asked for it (the worker): validated and gated again."""
        params = ExportParams(data=parameters)
        params.is_valid(raise_exception=True)
        return build_export(user, ChargeSession.objects.restrict(user, Action.VIEW), params)


def build_export(user: Any, sessions: QuerySet[ChargeSession], params: ExportParams) -> jobs.Export:
    """The export the parameters select among ``sessions`` (restricted to ``user``)."""
    data = params.validated_data
    session_filter = params.session_filter(user, sessions)
    selected = session_filter.apply(sessions)
    zone = str(data["zone"]) if data.get("installation") else ""
    if data["kind"] == "sessions":
        table = history_table(selected, session_filter.labels, zone)
        return sessions_export(table, "sessions", selected)
    group_by = GroupBy(data.get("group_by") or GroupBy.DAY)
    rows = usage_source(user, sessions, params).summarise(group_by)
    return rows_export(usage_table(rows, group_by, session_filter.labels, zone), "usage", rows)


def usage_source(user: Any, sessions: QuerySet[ChargeSession], params: Any) -> UsageSource:
    """What a usage report or export adds up: the daily rollup where the filters allow (the
    pages' rule: ``reporting.rollup``), the sessions otherwise. Instants ``from``/``to`` are read
    in the installation's zone; across installations they bound raw sessions."""
    data = params.validated_data
    return UsageSource(
        sessions=sessions,
        usage=DailyUsage.objects.restrict(user, Action.VIEW),
        session_filter=params.session_filter(user, sessions),
        zone=data["zone"] if data.get("installation") else None,
    )


class ExportJobViewSet(
    TenantViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your large exports (``reports/export/`` answered 202), newest first: status (queued,
    running, done, failed, expired), rows done of rows total, and the ``download_url`` of the file
    once done, kept until ``expires_at``. Only the user who asked sees an export: anyone else
    gets a 404."""

    queryset = ExportJob.objects.all()
    serializer_class = ExportJobSerializer
    filterset_fields = ["status"]
    ordering_fields = ["created_at"]
    content_negotiation_class = FormatIsAParameter

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, ExportFormat.XLSX.content_type): OpenApiResponse(OpenApiTypes.BINARY),
            404: OpenApiResponse(description="Not yours, not ready, or expired."),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> Any:
        """The export's file (once done, until it expires)."""
        return download(self.get_object())


class PricePeriodViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """An installation's price history (append-only). Add a price from a time that is not in the
    past (owners and installers); delete only a scheduled one that has not begun."""

    queryset = PricePeriod.objects.select_related("installation")
    serializer_class = PricePeriodSerializer
    filterset_fields = ["installation", "currency"]
    ordering_fields = ["effective_from"]

    def perform_destroy(self, instance: PricePeriod) -> None:
        from reporting.services import cancel_price

        cancel_price(instance)


class SessionEnergyViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A session's energy per UTC hour (interpolated between its energy readings; a session
    without readings is spread evenly and marked ``estimated``) and its energy and power curves
    (at most ``points`` points each, default 2000). Another tenant's session is a 404."""

    queryset = ChargeSession.objects.select_related(
        "connector", "charger", "charger__installation", "user", "card"
    )
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[
            OpenApiParameter("session_pk", int, OpenApiParameter.PATH),
            OpenApiParameter(
                "points", int, description="At most this many curve points (2-10000)."
            ),
        ],
        responses={200: SessionEnergySerializer},
    )
    def list(self, request: Request, session_pk: str) -> Response:
        session = get_object_or_404(self.filter_queryset(self.get_queryset()), pk=int(session_pk))
        points = request.query_params.get("points", str(API_CURVE_POINTS))
        if not points.isdigit() or not 2 <= int(points) <= MAX_CURVE_POINTS:
            raise ValidationError({"points": f"A whole number from 2 to {MAX_CURVE_POINTS}."})
        detail = session_detail(session, request.user, zone=ZoneInfo("UTC"), points=int(points))
        return Response(SessionEnergySerializer(detail).data)


class EnergyReportViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """Energy over time: energy delivered per UTC hour (``interval=hour``) or per local day of
    the installation (``interval=day``) by an installation's sessions (or one ``session``), with
    the session filters. Each session's energy is interpolated between its energy readings; one
    without readings is spread evenly between its start and stop, and the rows it reaches are
    ``estimated``. ``format=csv|xlsx``: the rows as a file. Per hour at most 93 days, per day 400.
    """

    queryset = ChargeSession.objects.all()
    pagination_class = None
    filter_backends: list[Any] = []
    content_negotiation_class = FormatIsAParameter

    @extend_schema(
        parameters=[EnergyParams],
        responses={
            200: EnergyReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            (200, ExportFormat.XLSX.content_type): OpenApiResponse(OpenApiTypes.BINARY),
        },
    )
    def list(self, request: Request) -> Any:
        params = EnergyParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        sessions = self.filter_queryset(self.get_queryset())
        session_filter = params.session_filter(request.user, sessions)
        # from/to bound the hours here, not the sessions' starts.
        selected = replace(session_filter, start=None, end=None).apply(sessions)
        zone: ZoneInfo = data["zone"]
        start, end = data["start"], data["end"]
        if data.get("session"):
            one = selected.filter(pk=data["session"]).select_related("charger__installation")
            session = one.first()
            if session is None:
                raise NotFound(f"No session {data['session']}.")
            zone = ZoneInfo(session.charger.installation.time_zone)
            selected = one
            start = start or session.started_at
            end = end or max(session_end(session), session.started_at + timedelta(seconds=1))
        interval: Interval = data["interval"]
        rows = energy_rows(
            selected, start, end, zone if interval == Interval.DAY else UTC, interval
        )
        if data.get("format"):
            table_zone = str(zone) if interval == Interval.DAY else "UTC"
            table = energy_table(rows, interval, session_filter.labels, table_zone)
            return export_response(table, ExportFormat(data["format"]), "energy")
        body = {
            "interval": interval.value,
            "time_zone": str(zone) if interval == Interval.DAY else "UTC",
            "from": start,
            "to": end,
            "energy_wh": sum(r.energy_wh for r in rows),
            "estimated_wh": sum(r.estimated_wh for r in rows),
            "results": rows,
        }
        return Response(EnergyReportSerializer(body).data)


class SignedDataViewSet(TenantViewSetMixin, viewsets.GenericViewSet):
    """A session's signed meter values (``format: SignedData``, e.g. OCMF), verbatim, in time
    order; ``format=txt`` (one per line) or ``format=xml`` (the transparency software's
    container) downloads them. Another tenant's session is a 404."""

    queryset = ChargeSession.objects.all()
    pagination_class = None
    filter_backends: list[Any] = []
    content_negotiation_class = FormatIsAParameter

    @extend_schema(
        parameters=[
            OpenApiParameter("session_pk", int, OpenApiParameter.PATH),
            OpenApiParameter("format", str, enum=["txt", "xml"], description="A file instead."),
        ],
        responses={200: SignedValueSerializer(many=True)},
    )
    def list(self, request: Request, session_pk: str) -> Any:
        session = get_object_or_404(self.filter_queryset(self.get_queryset()), pk=int(session_pk))
        fmt = request.query_params.get("format")
        if fmt is not None:
            if fmt not in SIGNED_TYPES:
                raise ValidationError({"format": "txt or xml."})
            return signed_download(session, request.user, fmt)
        values = signed_values(session, request.user)
        return Response(SignedValueSerializer(values, many=True).data)
