"""Queries over charge sessions: the facts a report shows, filters, keyset pages, totals, summaries.

Everything here starts from a queryset that went through the tenancy gate
(``ChargeSession.objects.restrict(user, Action.VIEW)``) and only narrows it.

Facts annotated on each session (``with_facts``):
  - ``price`` / ``currency``: the installation's price period in force when the session ended (a
    session in progress: now). A session that ended before the first period takes the first one.
  - ``cost``: energy (kWh) x price, rounded to the cent, per session; sums are sums of these.
    A session priced slot by slot (``tariffs.SessionCost``: an installation with a tariff or
    day-ahead prices) has its stored cost and currency instead, and its average price.
  - ``connected_s``: stop minus start, whole seconds (0 while in progress, as the model says);
    ``idle_s``: connected minus charging, never below 0.
A session belongs to the period, day, week or month in which it *started*, in its installation's
time zone.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Now, Round
from django.utils.dateparse import parse_datetime

from chargers.models import ChargeSession
from chargers.models.session import SignedMeterValue
from portal.tenancy import assert_restricted
from reporting.periods import DateRange, next_month

PAGE_SIZE = 50
MONEY = DecimalField(max_digits=16, decimal_places=2)
PRICE = DecimalField(max_digits=8, decimal_places=4)


class GroupBy(StrEnum):
    """What a usage summary has one row per (always also per installation and currency)."""

    USER = "user"
    CARD = "card"
    CHARGER = "charger"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    INSTALLATION = "installation"

    @property
    def is_time(self) -> bool:
        return self in (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH)


# ---------- facts ----------


class ConnectedSeconds(Func):
    """Whole seconds from start to stop; 0 while the session is in progress."""

    template = "COALESCE(GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%(expressions)s))))::bigint, 0)"
    arg_joiner = " - "
    output_field = BigIntegerField()


class LocalBucket(Func):
    """The local day, ISO week (Monday) or month in which an instant falls, in a zone column."""

    template = "(date_trunc('%(unit)s', timezone(%(expressions)s)))::date"
    output_field = DateField()

    def __init__(self, unit: str, zone: Any, instant: Any) -> None:
        if unit not in ("day", "week", "month"):
            raise ValueError(unit)
        super().__init__(zone, instant, unit=unit)


class LocalWallTime(Func):
    """The instant at which a zone column's clocks show a given wall time (``'YYYY-MM-DD HH:MM'``)."""

    template = "timezone(%(expressions)s::timestamp)"
    output_field = DateTimeField()

    def __init__(self, zone: Any, wall: datetime) -> None:
        super().__init__(zone, Value(wall.strftime("%Y-%m-%d %H:%M:%S"), output_field=CharField()))


def _with_price_range(sessions: QuerySet[ChargeSession]) -> QuerySet[ChargeSession]:
    """Join each session to the installation's price range its end (now, while in progress) falls
    in (``PriceRange``): one hash join for the whole set, no subquery per row."""
    moment = Coalesce(F("stopped_at"), Now())
    ranges = "charger__installation__price_ranges"
    return sessions.annotate(
        price_range=FilteredRelation(
            ranges,
            condition=Q(
                **{f"{ranges}__valid_from__lte": moment, f"{ranges}__valid_until__gt": moment}
            ),
        )
    )


def with_facts(sessions: QuerySet[ChargeSession]) -> QuerySet[ChargeSession]:
    """Annotate price, currency, cost, connected and idle seconds (see the module docstring)."""
    assert_restricted(sessions)
    return facts_of(sessions)


def facts_of(sessions: QuerySet[ChargeSession], priced: bool = True) -> QuerySet[ChargeSession]:
    """``with_facts`` without the tenancy check: for the rollup's own upkeep
    (``reporting.rollup``), never for a query that serves a user. ``priced=False``: without
    the priced costs (only for the migration that made the rollup, which runs before the
    ``tariffs`` table exists; there is none to read then)."""
    flat = _with_price_range(sessions).annotate(
        flat_price=Coalesce(F("price_range__price_per_kwh"), Value(Decimal(0)), output_field=PRICE),
    )
    if not priced:
        flat = flat.annotate(
            price=F("flat_price"),
            currency=Coalesce(F("price_range__currency"), Value(""), output_field=CharField()),
            cost=_flat_cost(),
            connected_s=ConnectedSeconds(F("stopped_at"), F("started_at")),
        )
    else:
        flat = flat.annotate(
            # A session priced slot by slot (tariffs.SessionCost with a cost) has its own cost,
            # currency and average price; the others the price in force at their end.
            price=Case(
                When(priced_cost__cost__isnull=False, then=F("priced_cost__price_per_kwh")),
                default=F("flat_price"),
                output_field=PRICE,
            ),
            currency=Case(
                When(priced_cost__cost__isnull=False, then=F("priced_cost__currency")),
                default=Coalesce(F("price_range__currency"), Value(""), output_field=CharField()),
                output_field=CharField(),
            ),
            cost=Coalesce(F("priced_cost__cost"), _flat_cost(), output_field=MONEY),
            connected_s=ConnectedSeconds(F("stopped_at"), F("started_at")),
        )
    return flat.annotate(idle_s=Greatest(F("connected_s") - F("charging_seconds"), Value(0)))


def _flat_cost() -> Round:
    """Energy (kWh) x the price in force at the end, rounded to the cent."""
    return Round(
        ExpressionWrapper(F("energy_wh") * F("flat_price") / Value(1000), output_field=MONEY),
        2,
        output_field=MONEY,
    )


# ---------- filters ----------


@dataclass(frozen=True)
class SessionFilter:
    """What a history or summary covers, in terms the tenancy gate already allowed.

    ``start``/``end`` bound ``started_at`` as instants (inclusive, exclusive). ``days`` bounds it as
    local days in each session's own installation time zone (for views across installations).
    """

    installation_id: int | None = None
    charger_id: int | None = None
    user_id: int | None = None
    card_id: int | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    days: DateRange | None = None
    search: str = ""
    labels: dict[str, str] = field(default_factory=dict, compare=False)

    def apply(self, sessions: QuerySet[ChargeSession]) -> QuerySet[ChargeSession]:
        assert_restricted(sessions)
        exact = {
            "charger__installation_id": self.installation_id,
            "charger_id": self.charger_id,
            "user_id": self.user_id,
            "card_id": self.card_id,
            "status": self.status or None,
        }
        sessions = sessions.filter(**{key: value for key, value in exact.items() if value})
        if self.start is not None:
            sessions = sessions.filter(started_at__gte=self.start)
        if self.end is not None:
            sessions = sessions.filter(started_at__lt=self.end)
        if self.days is not None:
            zone = F("charger__installation__time_zone")
            first = datetime.combine(self.days.first, datetime.min.time())
            after = datetime.combine(date.fromordinal(self.days.last.toordinal() + 1), first.time())
            sessions = sessions.filter(
                started_at__gte=LocalWallTime(zone, first),
                started_at__lt=LocalWallTime(zone, after),
            )
        if self.search:
            term = self.search.replace("\x00", "").strip()
            sessions = sessions.filter(
                Q(id_tag__icontains=term)
                | Q(card__name__icontains=term)
                | Q(user__name__icontains=term)
                | Q(user__email__icontains=term)
            )
        return sessions


# ---------- keyset pages ----------


class CursorError(ValueError):
    """A page cursor that was not made by ``encode_cursor`` (for this sort)."""


class Sort(StrEnum):
    """The history's orders. Each is a keyset over (key, id), so every page is a range read."""

    NEWEST = "newest"
    OLDEST = "oldest"
    ENERGY = "energy"
    LONGEST = "longest"
    COST = "cost"

    @property
    def label(self) -> str:
        return SORT_LABELS[self]


SORT_LABELS = {
    Sort.NEWEST: "Newest first",
    Sort.OLDEST: "Oldest first",
    Sort.ENERGY: "Most energy",
    Sort.LONGEST: "Longest connected",
    Sort.COST: "Highest cost",
}
# (the annotated or stored field, descending?, text -> value). ``longest`` and ``cost`` read
# ``with_facts`` annotations.
_SORT_KEYS: dict[Sort, tuple[str, bool, Callable[[str], Any]]] = {
    Sort.NEWEST: ("started_at", True, parse_datetime),
    Sort.OLDEST: ("started_at", False, parse_datetime),
    Sort.ENERGY: ("energy_wh", True, int),
    Sort.LONGEST: ("connected_s", True, int),
    Sort.COST: ("cost", True, Decimal),
}


def sort_ordering(sort: Sort) -> tuple[str, str]:
    """The ``order_by`` of ``sort`` (ties by id), as pages and exports list sessions."""
    field_name, descending, _ = _SORT_KEYS[sort]
    sign = "-" if descending else ""
    return f"{sign}{field_name}", f"{sign}id"


def encode_cursor(session: ChargeSession, sort: Sort = Sort.NEWEST) -> str:
    key = getattr(session, _SORT_KEYS[sort][0])
    text = key.isoformat() if isinstance(key, datetime) else str(key)
    raw = f"{sort.value}|{text}|{session.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort = Sort.NEWEST) -> tuple[Any, int]:
    """(key, id) after which the next page starts; a cursor of another sort is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split("|")
        if len(parts) == 2:  # before sorts existed: newest first
            parts.insert(0, Sort.NEWEST.value)
        name, text, pk = parts
        if name != sort.value:
            raise ValueError(name)
        key = _SORT_KEYS[sort][2](text)
        if key is None or (isinstance(key, datetime) and key.tzinfo is None):
            raise ValueError(text)
        return key, int(pk)
    except (ValueError, ArithmeticError, binascii.Error, UnicodeDecodeError) as error:
        raise CursorError("Not a page cursor of this list.") from error


@dataclass
class Page:
    rows: list[ChargeSession]
    next_cursor: str | None


def keyset_page(
    sessions: QuerySet[ChargeSession],
    cursor: str | None = None,
    size: int = PAGE_SIZE,
    sort: Sort = Sort.NEWEST,
) -> Page:
    """``size`` rows after ``cursor`` in the ``sort`` order (ties by id): a range read however
    deep the page. Each row says whether it has ``signed`` meter values."""
    field_name, descending, _ = _SORT_KEYS[sort]
    ordered = sessions.order_by(*sort_ordering(sort))
    if cursor:
        key, pk = decode_cursor(cursor, sort)
        beyond = "lt" if descending else "gt"
        # The first condition repeats the OR's bound so that PostgreSQL starts the index range
        # at the cursor (an OR alone is a filter: a page half-way down read half the index).
        ordered = ordered.filter(
            Q(**{f"{field_name}__{beyond}e": key}),
            Q(**{f"{field_name}__{beyond}": key}) | Q(**{field_name: key, f"pk__{beyond}": pk}),
        )
    signed = SignedMeterValue.objects.filter(session=OuterRef("pk"))
    rows = list(
        ordered.select_related("charger", "charger__installation", "user", "card").annotate(
            signed=Exists(signed)
        )[: size + 1]
    )
    next_cursor = encode_cursor(rows[size - 1], sort) if len(rows) > size else None
    return Page(rows=rows[:size], next_cursor=next_cursor)


# ---------- totals and summaries ----------


@dataclass
class Usage:
    """Sums over a set of sessions (one currency for ``cost``)."""

    sessions: int = 0
    energy_wh: int = 0
    connected_s: int = 0
    charging_s: int = 0
    idle_s: int = 0
    cost: Decimal = Decimal("0.00")
    currency: str = ""

    @property
    def energy_kwh(self) -> float:
        return self.energy_wh / 1000

    def add(self, other: Usage) -> None:
        self.sessions += other.sessions
        self.energy_wh += other.energy_wh
        self.connected_s += other.connected_s
        self.charging_s += other.charging_s
        self.idle_s += other.idle_s


SUMS = {
    "n": Count("id"),
    "energy": Coalesce(Sum("energy_wh"), 0),
    "connected": Coalesce(Sum("connected_s"), 0),
    "charging": Coalesce(Sum("charging_seconds"), 0),
    "idle": Coalesce(Sum("idle_s"), 0),
    "money": Coalesce(Sum("cost"), Value(Decimal(0)), output_field=MONEY),
}


def usage_of(row: dict[str, Any]) -> Usage:
    """A ``Usage`` from a row of the ``SUMS`` aggregates (or the rollup's ``ROLLUP_SUMS``)."""
    return Usage(
        sessions=int(row["n"]),
        energy_wh=int(row["energy"]),
        connected_s=int(row["connected"]),
        charging_s=int(row["charging"]),
        idle_s=int(row["idle"]),
        cost=Decimal(row["money"]).quantize(Decimal("0.01")),
        currency=row["currency"] or "",
    )


@dataclass
class Totals:
    """Sums over a filtered set: one ``Usage`` for everything, costs per currency."""

    all: Usage
    cost_by_currency: list[tuple[str, Decimal]]


def totals(sessions: QuerySet[ChargeSession]) -> Totals:
    rows = with_facts(sessions).order_by().values("currency").annotate(**SUMS)
    overall = Usage()
    costs = []
    for row in rows:
        usage = usage_of(row)
        overall.add(usage)
        if usage.sessions:
            costs.append((usage.currency, usage.cost))
    return Totals(all=overall, cost_by_currency=sorted(costs))


@dataclass
class SummaryRow:
    """One row of a usage summary: a key (driver, card, charger or period) at one installation."""

    installation_id: int
    installation_name: str
    key: Any
    label: str
    usage: Usage


def _group_fields(group_by: GroupBy) -> dict[str, Any]:
    if group_by.is_time:
        return {
            "bucket": LocalBucket(
                group_by.value, F("charger__installation__time_zone"), F("started_at")
            )
        }
    return {}


GROUP_VALUES: dict[GroupBy, Sequence[str]] = {
    GroupBy.USER: ("user_id", "user__name", "user__email"),
    GroupBy.CARD: ("card_id", "card__name", "card__id_tag"),
    GroupBy.CHARGER: ("charger_id", "charger__name"),
    GroupBy.DAY: ("bucket",),
    GroupBy.WEEK: ("bucket",),
    GroupBy.MONTH: ("bucket",),
    GroupBy.INSTALLATION: (),
}


def key_and_label(group_by: GroupBy, row: dict[str, Any]) -> tuple[Any, str]:
    if group_by == GroupBy.USER:
        if row["user_id"] is None:
            return None, "No account"
        return row["user_id"], row["user__name"] or row["user__email"]
    if group_by == GroupBy.CARD:
        if row["card_id"] is None:
            return None, "No card"
        return row["card_id"], row["card__name"] or row["card__id_tag"]
    if group_by == GroupBy.CHARGER:
        return row["charger_id"], row["charger__name"]
    if group_by.is_time:
        bucket: date = row["bucket"]
        if group_by == GroupBy.MONTH:
            return bucket, f"{bucket:%Y-%m}"
        if group_by == GroupBy.WEEK:
            year, week, _ = bucket.isocalendar()
            return bucket, f"{year}-W{week:02d}"
        return bucket, bucket.isoformat()
    if "installation_id" in row:  # a row of the rollup
        return row["installation_id"], row["installation__name"]
    return row["charger__installation_id"], row["charger__installation__name"]


def summarise(sessions: QuerySet[ChargeSession], group_by: GroupBy) -> list[SummaryRow]:
    """Sums per ``group_by`` key, per installation and currency: periods in time order, other keys
    by energy (largest first)."""
    values = [
        "charger__installation_id",
        "charger__installation__name",
        *GROUP_VALUES[group_by],
        "currency",
    ]
    rows = (
        with_facts(sessions)
        .annotate(**_group_fields(group_by))
        .order_by()
        .values(*values)
        .annotate(**SUMS)
    )
    result = []
    for row in rows:
        key, label = key_and_label(group_by, row)
        result.append(
            SummaryRow(
                installation_id=row["charger__installation_id"],
                installation_name=row["charger__installation__name"],
                key=key,
                label=label,
                usage=usage_of(row),
            )
        )
    return sort_summary(result, group_by)


def sort_summary(result: list[SummaryRow], group_by: GroupBy) -> list[SummaryRow]:
    """Periods in time order, other keys by energy (largest first), per installation."""
    if group_by.is_time:
        result.sort(key=lambda r: (r.installation_name, r.installation_id, r.key, r.usage.currency))
    else:
        result.sort(
            key=lambda r: (r.installation_name, r.installation_id, -r.usage.energy_wh, r.label)
        )
    return result


def energy_series(
    sessions: QuerySet[ChargeSession], days: DateRange | None
) -> tuple[GroupBy, list[tuple[str, float]]]:
    """Energy (kWh) per local day when the range is two months or less, else per month, with the
    empty days or months in between (the chart's bars)."""
    return energy_points(lambda group_by: summarise(sessions, group_by), days)


def energy_points(
    summary: Callable[[GroupBy], list[SummaryRow]], days: DateRange | None
) -> tuple[GroupBy, list[tuple[str, float]]]:
    """``energy_series`` from a summary function (raw sessions, or ``reporting.rollup``)."""
    span = (days.last - days.first).days if days else None
    group_by = GroupBy.DAY if span is not None and span <= 62 else GroupBy.MONTH
    per_key: dict[date, int] = {}
    for row in summary(group_by):
        per_key[row.key] = per_key.get(row.key, 0) + row.usage.energy_wh
    if days is not None:
        first, last = days.first, days.last
    elif per_key:
        first, last = min(per_key), max(per_key)
    else:
        return group_by, []
    points: list[tuple[str, float]] = []
    if group_by == GroupBy.DAY:
        day = first
        while day <= last:
            points.append((f"{day:%d %b}", per_key.get(day, 0) / 1000))
            day = date.fromordinal(day.toordinal() + 1)
    else:
        month = first.replace(day=1)
        while month <= last:
            points.append((f"{month:%b %Y}", per_key.get(month, 0) / 1000))
            month = next_month(month)
    return group_by, points
