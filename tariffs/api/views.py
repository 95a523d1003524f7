"""Prices over the API (docs/tariffs.md), below the installation:

- ``/installations/{id}/tariff/``: the tariff in force and those scheduled (GET: members); PUT
  adds a tariff from a time on, DELETE cancels the scheduled ones (owners and installers).
- ``/installations/{id}/holidays/``: the installation's holidays (GET: members; POST adds one:
  owners and installers); ``/installations/{id}/holidays/{date}/``: DELETE removes one.
- ``/installations/{id}/day-ahead-prices/``: GET lists them for a range (members); POST stores a
  contiguous list from a market feed (operate: owners, installers, a token with operate).
- ``/installations/{id}/price-slots/``: GET the price over a range as slots, as departure
  planning and reports read it.

Every installation is reached through ``restrict(user, action)``: another tenant's is a 404.
Every rule is ``tariffs.services``' and answers 400 naming the field or the entry.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from installations.models import Installation
from portal.api.viewsets import TenantViewSetMixin
from portal.tenancy import Action
from tariffs import services
from tariffs.api.serializers import (
    DayAheadInputSerializer,
    DayAheadPriceSerializer,
    HolidaySerializer,
    PriceSlotSerializer,
    TariffInputSerializer,
    TariffStateSerializer,
)
from tariffs.models import DayAheadPrice, Holiday
from tariffs.prices import price_slots

# The longest range one GET of prices or slots covers.
MAX_RANGE = timedelta(days=31)

RANGE_PARAMETERS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATETIME, description="Start (default: local midnight today)."
    ),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (default: two days later)."),
]


def _range(request: Request, installation: Installation) -> tuple[datetime, datetime]:
    """``?from=&to=`` as instants (a date is its local midnight); default today and tomorrow."""
    zone = ZoneInfo(installation.time_zone)

    def read(name: str) -> datetime | None:
        text = request.query_params.get(name)
        if not text:
            return None
        problem = {name: "Give a date or a time with its offset, between 2000 and 2100."}
        try:  # Django's parsers raise on a well-formed but impossible value (02-30, 25:00)
            moment = parse_datetime(text)
            if moment is None:
                day = parse_date(text)
                if day is None:
                    raise exceptions.ValidationError(problem)
                moment = datetime.combine(day, datetime.min.time(), zone)
            elif timezone.is_naive(moment):
                moment = moment.replace(tzinfo=zone)
        except (ValueError, OverflowError):
            raise exceptions.ValidationError(problem) from None
        if not 2000 <= moment.year <= 2100:
            raise exceptions.ValidationError(problem)
        return moment

    start = read("from") or datetime.combine(
        services.local_today(installation), datetime.min.time(), zone
    )
    end = read("to") or start + timedelta(days=2)
    if end <= start:
        raise exceptions.ValidationError({"to": "The range must end after it starts."})
    if end - start > MAX_RANGE:
        raise exceptions.ValidationError({"to": "At most 31 days at a time."})
    return start, end


class _InstallationResource(TenantViewSetMixin, viewsets.GenericViewSet):
    """A resource below ``installations/{id}/``: the installation through the gate."""

    queryset = Installation.objects.all()


class TariffViewSet(_InstallationResource):
    """An installation's time-of-use tariff: members read it; owners and installers add one
    from a time on or cancel the scheduled ones."""

    serializer_class = TariffStateSerializer
    tenant_actions = {
        "retrieve": Action.VIEW,
        "update": Action.ADMINISTER,
        "destroy": Action.ADMINISTER,
    }

    def _answer(self, installation: Installation) -> Response:
        body = {
            "in_force": services.tariff_in_force(installation),
            "scheduled": services.scheduled_tariffs(installation),
        }
        return Response(TariffStateSerializer(body).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._answer(self.get_object())

    @extend_schema(request=TariffInputSerializer, responses={200: TariffStateSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add a tariff from ``effective_from`` (default now; never in the past). It replaces
        the tariff in force from then on; that one stays as history. Bands of one day type must
        not overlap; a time no band covers is priced at the flat price."""
        installation = self.get_object()
        serializer = TariffInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.save_tariff(
            installation,
            currency=data["currency"] or installation.currency,
            bands=[services.BandSpec(**band) for band in data["bands"]],
            effective_from=data["effective_from"],
            name=data["name"],
            user=request.user,  # type: ignore[arg-type]
        )
        return self._answer(installation)

    @extend_schema(responses={200: TariffStateSerializer})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel every scheduled tariff (those that have not begun); history stays."""
        installation = self.get_object()
        for tariff in services.scheduled_tariffs(installation):
            services.cancel_tariff(tariff)
        return self._answer(installation)


class HolidaysViewSet(_InstallationResource):
    """An installation's holidays: local dates that count as weekend days. Members read them;
    owners and installers add and remove them (from today on: a past day is history)."""

    serializer_class = HolidaySerializer
    tenant_actions = {
        "list": Action.VIEW,
        "create": Action.ADMINISTER,
        "destroy": Action.ADMINISTER,
    }

    @extend_schema(
        parameters=[OpenApiParameter("year", OpenApiTypes.INT, description="Only this year.")],
        responses={200: HolidaySerializer(many=True)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        installation = self.get_object()
        rows = Holiday.objects.restrict(request.user, Action.VIEW).filter(installation=installation)
        year = request.query_params.get("year")
        if year:
            if not year.isdigit() or not 1900 <= int(year) <= 2200:
                raise exceptions.ValidationError({"year": "Give a year such as 2027."})
            rows = rows.filter(date__year=int(year))
        return Response(HolidaySerializer(rows.order_by("date"), many=True).data)

    @extend_schema(request=HolidaySerializer, responses={201: HolidaySerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add a holiday (today or later)."""
        installation = self.get_object()
        serializer = HolidaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        holiday = services.add_holiday(
            installation,
            serializer.validated_data["date"],
            serializer.validated_data.get("name", ""),
        )
        return Response(HolidaySerializer(holiday).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE, OpenApiParameter.PATH)],
        responses={204: None},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Remove a holiday that has not passed."""
        installation = self.get_object()
        day = parse_date(str(kwargs.get("date", "")))
        holiday = (
            Holiday.objects.restrict(request.user, Action.ADMINISTER)
            .filter(installation=installation, date=day)
            .select_related("installation")
            .first()
            if day
            else None
        )
        if holiday is None:
            raise exceptions.NotFound("No holiday on that date here.")
        services.remove_holiday(holiday)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DayAheadPricesViewSet(_InstallationResource):
    """An installation's day-ahead prices: members read them for a range; a market feed posts
    them (operate: owners, installers, an API token with operate)."""

    serializer_class = DayAheadPriceSerializer
    tenant_actions = {"list": Action.VIEW, "create": Action.OPERATE}

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: DayAheadPriceSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The stored prices that overlap the range (default: today and tomorrow, local)."""
        installation = self.get_object()
        start, end = _range(request, installation)
        rows = DayAheadPrice.objects.restrict(request.user, Action.VIEW).filter(
            installation=installation, end__gt=start, start__lt=end
        )
        return Response(DayAheadPriceSerializer(rows.order_by("start"), many=True).data)

    @extend_schema(
        request=DayAheadInputSerializer, responses={201: DayAheadPriceSerializer(many=True)}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Store a contiguous list of prices (also accepted: the bare list). Gaps, overlaps, an
        end at or before its start, a passed entry or a price that is not a finite number answer
        400 naming the entry (``prices[3]``). Negative prices are allowed (markets have them).
        They replace the stored prices over the range they cover."""
        installation = self.get_object()
        data = request.data
        if isinstance(data, list):
            data = {"prices": data}
        serializer = DayAheadInputSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        entries = [services.DayAheadEntry(**row) for row in serializer.validated_data["prices"]]
        rows = services.post_day_ahead(
            installation, entries, currency=serializer.validated_data["currency"]
        )
        return Response(
            DayAheadPriceSerializer(rows, many=True).data, status=status.HTTP_201_CREATED
        )


class PriceSlotsViewSet(_InstallationResource):
    """The installation's price over a range as slots of at most an hour, split at every price
    change: the day-ahead price, else the tariff's band, else the flat price (null: no price)."""

    serializer_class = PriceSlotSerializer
    tenant_actions = {"list": Action.VIEW}

    @extend_schema(parameters=RANGE_PARAMETERS, responses={200: PriceSlotSerializer(many=True)})
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        installation = self.get_object()
        start, end = _range(request, installation)
        slots = price_slots(installation, start, end)
        return Response(PriceSlotSerializer([asdict(slot) for slot in slots], many=True).data)
