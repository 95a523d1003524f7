"""``/api/v1/events/``: the outbox, read-only, for API clients.

Owners and installers read their installations' events, drivers the events of their own
sessions (``Event.driver_scope``), through the tenancy gate like every resource. Two ways to page:

* newest first by cursor (the default; ``next`` links, no count, fast at any depth);
* ``?after=<id>``: oldest first after the event ``id``, for a consumer that polls. It follows the
  outbox's commit order (``events.consumers``): events of transactions still running are held
  back until they end, so a poller that always passes the last id it received misses nothing
  (``after=0`` starts from the oldest event kept).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, pagination, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from events.catalogue import CATALOGUE
from events.choices import Severity
from events.consumers import FINISHED_BELOW
from events.models import Event
from events.serializers import event_json
from portal.api.pagination import PageNumberPagination
from portal.api.viewsets import TenantReadOnlyViewSet


class EventSerializer(serializers.Serializer):
    """An event in the catalogue's JSON shape (``events.serializers.event_json``)."""

    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=sorted(CATALOGUE))
    version = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    timestamp = serializers.DateTimeField(help_text="When it happened (the charger's clock).")
    recorded_at = serializers.DateTimeField()
    installation = serializers.IntegerField()
    charger = serializers.IntegerField(allow_null=True)
    connector = serializers.IntegerField(help_text="0: the charger itself.")
    data = serializers.DictField(help_text="The type's payload (docs/events.md, Catalogue).")

    def to_representation(self, instance: Event) -> dict[str, Any]:
        return event_json(instance)


@extend_schema_field({"type": "string", "description": "An event type of the catalogue."})
class EventTypeFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """``type=a,b``: one or more catalogue types; an unknown one is a 400 naming it."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        unknown = [name for name in value if name not in CATALOGUE]
        if unknown:
            raise exceptions.ValidationError(
                {"type": [f"Unknown event type: {', '.join(unknown)} (see docs/events.md)."]}
            )
        return qs.filter(type__in=value)


class EventFilter(django_filters.FilterSet):
    installation = django_filters.NumberFilter(field_name="installation")
    charger = django_filters.NumberFilter(field_name="charger")
    type = EventTypeFilter(label="Event types of the catalogue, comma-separated")
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    since = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Occurred at or after (inclusive)"
    )
    before = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label="Occurred before (exclusive)"
    )

    class Meta:
        model = Event
        fields = ["installation", "charger", "type", "severity", "since", "before"]


class EventPagination(pagination.BasePagination):
    """Newest first by cursor, or oldest first in commit order after ``?after=<id>``."""

    after_query_param = "after"

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self.request = request
        if self.after_query_param not in request.query_params:
            self.after = None
            self.cursor = pagination.CursorPagination()
            self.cursor.ordering = ("-occurred_at", "-id")
            self.cursor.page_size = PageNumberPagination.page_size or 50
            self.cursor.page_size_query_param = "page_size"
            self.cursor.max_page_size = PageNumberPagination.max_page_size
            return self.cursor.paginate_queryset(queryset, request, view)
        self.after = self._after(queryset, request.query_params[self.after_query_param])
        page_size = self._page_size(request)
        xid, event_id = self.after
        found = list(
            queryset.filter(xid__lt=FINISHED_BELOW)
            .filter(Q(xid__gt=xid) | Q(xid=xid, id__gt=event_id))
            .order_by("xid", "id")[:page_size]
        )
        self.last_id = found[-1].pk if found else int(request.query_params[self.after_query_param])
        return found

    @staticmethod
    def _page_size(request: Any) -> int:
        """``page_size`` as in every list (an unusable value means the default)."""
        default = PageNumberPagination.page_size or 50
        try:
            size = int(request.query_params.get("page_size", default))
        except ValueError:
            return default
        return default if size < 1 else min(size, PageNumberPagination.max_page_size)

    def _after(self, queryset: QuerySet[Event], raw: str) -> tuple[int, int]:
        """The commit-order position of the event ``raw`` (one the user may see), or the start."""
        try:
            event_id = int(raw)
        except ValueError:
            raise exceptions.ValidationError({"after": ["An event id (a whole number)."]}) from None
        if event_id <= 0:
            return (0, 0)
        position = queryset.filter(pk=event_id).values_list("xid", "id").first()
        if position is None:
            raise exceptions.ValidationError(
                {
                    "after": [
                        f"No event {event_id} among the events you may read with these filters."
                    ]
                }
            )
        return position

    def get_paginated_response(self, data: Any) -> Response:
        if self.after is None:
            return self.cursor.get_paginated_response(data)
        url = self.request.build_absolute_uri()
        return Response(
            {
                "next": replace_query_param(url, self.after_query_param, self.last_id),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: Any) -> Any:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[Any]:
        return [
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "Newest first: follow `next` (no count).",
                "schema": {"type": "string"},
            },
            {
                "name": self.after_query_param,
                "required": False,
                "in": "query",
                "description": "Oldest first in commit order after this event id (0: from the "
                "start), for polling: pass the last id received; `next` is the link to poll.",
                "schema": {"type": "integer"},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"At most {PageNumberPagination.max_page_size}.",
                "schema": {"type": "integer"},
            },
        ]


class EventViewSet(TenantReadOnlyViewSet):
    """Domain events (the outbox, docs/events.md) of your installations; drivers see the events
    of their own sessions. Filters: ``installation``, ``charger``, ``type`` (catalogue types,
    comma-separated; an unknown one is a 400), ``severity``, ``since`` (inclusive) and
    ``before`` (exclusive) on the time it occurred. Newest first by cursor, or ``?after=<id>``
    oldest first in commit order for polling consumers."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    filterset_class = EventFilter
    filter_backends = [DjangoFilterBackend]
    pagination_class = EventPagination
