"""The query parameters of the reporting endpoints (and the session list's filters): parsed,
checked and turned into a ``SessionFilter``.

Bad input is a 400 naming the parameter (an unknown ``group_by``, a malformed date, ``from`` not
before ``to``, a range over the limit). An installation, charger, user or card the requester
cannot see is a 404, exactly like one that does not exist. ``from`` is inclusive and ``to``
exclusive, on the session's start; a date or a time without offset is read in the
installation's time zone (UTC without ``installation``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from auth_access.models import ChargeCard
from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from installations.models import Installation, Membership
from portal.tenancy import Action
from reporting.energy import Interval
from reporting.exports import ExportFormat
from reporting.forms import MAX_RANGE_DAYS
from reporting.queries import GroupBy, SessionFilter

# Per day, a usage summary covers at most this many days (a year and a bit).
MAX_DAILY_RANGE_DAYS = 400
DEFAULT_RANGE = timedelta(days=31)


@extend_schema_field({"type": "string", "example": "2026-03-01T00:00:00+01:00"})
class Moment(serializers.Field):
    """An ISO 8601 date or date-time; kept as text until the time zone is known."""

    default_error_messages = {
        "invalid": "Use an ISO 8601 date (2026-03-01) or date-time (2026-03-01T00:00:00+01:00)."
    }

    def to_internal_value(self, data: Any) -> datetime | date:
        text = str(data).strip()
        try:
            parsed: datetime | date | None = parse_datetime(text) or parse_date(text)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        return parsed  # type: ignore[return-value]

    def to_representation(self, value: Any) -> str:
        return str(value)


def as_instant(value: datetime | date, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time.min).replace(tzinfo=zone)


class FilterParams(serializers.Serializer):
    """Which sessions: the filters shared by the session list, usage and exports."""

    installation = serializers.IntegerField(required=False, min_value=1)
    charger = serializers.IntegerField(required=False, min_value=1)
    user = serializers.IntegerField(required=False, min_value=1)
    card = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False)
    q = serializers.CharField(required=False, max_length=100, help_text="Card or driver contains")
    # "from" is a keyword in Python: declared in __init__.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = Moment(
            required=False, help_text="Sessions that started at or after (inclusive)."
        )
        self.fields["to"] = Moment(
            required=False, help_text="Sessions that started before (exclusive)."
        )

    max_range_days = MAX_RANGE_DAYS
    default_range: timedelta | None = None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        zone = ZoneInfo("UTC")
        installation_id = attrs.get("installation")
        if installation_id:
            found = Installation.objects.filter(pk=installation_id).values_list(
                "time_zone", flat=True
            )
            zone = ZoneInfo(found.first() or "UTC")
        attrs["zone"] = zone
        start = as_instant(attrs["from"], zone) if attrs.get("from") else None
        end = as_instant(attrs["to"], zone) if attrs.get("to") else None
        if self.default_range is not None:
            end = end or timezone.now()
            start = start or end - self.default_range
        if start and end and start >= end:
            raise serializers.ValidationError({"from": "`from` must be before `to`."})
        if start and end and end - start > timedelta(days=self.range_limit(attrs)):
            raise serializers.ValidationError(
                {"to": f"The range is over the limit of {self.range_limit(attrs)} days."}
            )
        attrs["start"], attrs["end"] = start, end
        return attrs

    def range_limit(self, attrs: dict[str, Any]) -> int:
        return self.max_range_days

    def session_filter(self, user: Any, sessions: QuerySet[ChargeSession]) -> SessionFilter:
        """The filter, after checking that every object named is one ``user`` may see."""
        data = self.validated_data
        check_visible(user, sessions, data)
        return SessionFilter(
            installation_id=data.get("installation"),
            charger_id=data.get("charger"),
            user_id=data.get("user"),
            card_id=data.get("card"),
            status=data.get("status"),
            start=data.get("start"),
            end=data.get("end"),
            search=data.get("q", ""),
            labels={
                key: str(value)
                for key, value in self.initial_data.items()
                if key in self.fields and value
            },
        )


class UsageParams(FilterParams):
    group_by = serializers.ChoiceField(
        choices=[g.value for g in GroupBy], help_text="What each row sums."
    )
    default_range = DEFAULT_RANGE

    def range_limit(self, attrs: dict[str, Any]) -> int:
        return MAX_DAILY_RANGE_DAYS if attrs.get("group_by") == GroupBy.DAY else MAX_RANGE_DAYS


class ExportParams(FilterParams):
    kind = serializers.ChoiceField(choices=["sessions", "usage"])
    format = serializers.ChoiceField(choices=[f.value for f in ExportFormat])
    group_by = serializers.ChoiceField(
        choices=[g.value for g in GroupBy],
        required=False,
        help_text="For kind=usage (default: day).",
    )

    def range_limit(self, attrs: dict[str, Any]) -> int:
        if attrs.get("kind") == "usage" and attrs.get("group_by", GroupBy.DAY) == GroupBy.DAY:
            return MAX_DAILY_RANGE_DAYS
        return MAX_RANGE_DAYS

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("kind") == "usage":
            self.default_range = DEFAULT_RANGE
        return super().validate(attrs)


def check_visible(user: Any, sessions: QuerySet[ChargeSession], data: dict[str, Any]) -> None:
    """404 for an installation, charger, user or card the requester may not see.

    Visible: what the tenancy gate lets them view, and what occurs in sessions they may see (a
    driver who left an installation, a former member's sessions, a member's own card).
    """
    checks = [
        ("installation", Installation, "charger__installation_id"),
        ("charger", Charger, "charger_id"),
        ("card", ChargeCard, "card_id"),
    ]
    for name, model, lookup in checks:
        if not data.get(name):
            continue
        pk = int(data[name])
        if model.objects.restrict(user, Action.VIEW).filter(pk=pk).exists():
            continue
        if sessions.filter(**{lookup: pk}).exists():
            continue
        raise exceptions.NotFound(f"No {name} {pk}.")
    user_id = int(data["user"]) if data.get("user") else None
    if user_id and user_id != user.pk and not user.is_superuser:
        members = Membership.objects.restrict(user, Action.VIEW).filter(
            user_id=user_id, installation__in=Installation.objects.restrict(user, Action.ADMINISTER)
        )
        if not members.exists() and not sessions.filter(user_id=user_id).exists():
            raise exceptions.NotFound(f"No user {user_id}.")


# Energy over time: at most this many days per hour and per day.
MAX_HOURLY_RANGE_DAYS = 93
ENERGY_DEFAULT_RANGE = {Interval.HOUR: timedelta(days=1), Interval.DAY: timedelta(days=31)}


class EnergyParams(FilterParams):
    """Energy over time of an installation's sessions (or one session): which hours or days.

    ``from``/``to`` bound the *hours or days* (energy counts where it was delivered, not where its
    session started); default: the last day per hour, the last 31 days per day, or the whole
    session with ``session=``. Hours are UTC hours; days are the installation's local days.
    """

    session = serializers.IntegerField(required=False, min_value=1)
    interval = serializers.ChoiceField(
        choices=[i.value for i in Interval], required=False, help_text="hour (default) or day."
    )
    format = serializers.ChoiceField(
        choices=[f.value for f in ExportFormat],
        required=False,
        help_text="csv or xlsx for a file (default: JSON).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"].help_text = "Hours or days from this one (inclusive)."
        self.fields["to"].help_text = "Hours or days before this instant (exclusive)."

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        interval = Interval(attrs.get("interval") or Interval.HOUR)
        attrs["interval"] = interval
        if not attrs.get("installation") and not attrs.get("session"):
            raise serializers.ValidationError(
                {"installation": "Name an installation (or a session)."}
            )
        if attrs.get("session") and not (attrs.get("from") or attrs.get("to")):
            self.default_range = None  # the session's own span
        else:
            self.default_range = ENERGY_DEFAULT_RANGE[interval]
        return super().validate(attrs)

    def range_limit(self, attrs: dict[str, Any]) -> int:
        return MAX_HOURLY_RANGE_DAYS if attrs["interval"] == Interval.HOUR else MAX_DAILY_RANGE_DAYS
