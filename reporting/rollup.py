"""The daily usage rollup (``DailyUsage``): what reports read instead of scanning sessions.

A report's totals, usage summaries, energy chart and filter lists add up the sessions it covers.
At a million sessions that is a scan of an installation's sessions (with the price join) per
figure; ``DailyUsage`` holds the same sums per installation, local day of the start, charger,
driver, card and currency, for the **finished** sessions (completed, with an end: their facts no
longer change unless the row does). A report reads:

- the rollup rows its filters select, for the finished sessions, plus
- the raw sessions that are not finished yet (few, and indexed: ``reporting_session_unfinished``),
  with the facts of ``queries.with_facts`` (a running session costs at today's price),

and adds them. A filter the rollup cannot answer (a free-text search, a range of instants that
does not fall on the local midnights of the page's time zone) reads the raw sessions only, as
before. The page of history rows is always a keyset read of the sessions table.

**Exactness.** The rollup is written by PostgreSQL triggers only (migration 0004), in the same
transaction as the change that moves it, whatever path made it (the bridge's StopTransaction, an
inferred close, a sweep, a user or card deleted and the sessions' SET NULL, an edit in the admin,
raw SQL): a session's row change removes the old row's contribution and adds the new one's, with
the same formulas as ``with_facts``. What regroups or reprices sessions wholesale recomputes the
affected rows under a lock that waits for session writers: a charger moved to another
installation, an installation's time zone changed, a price period written (a later price never
applies to a session that has ended, but the five minutes of tolerance of ``schedule_price`` and
fixtures that write history may). ``rebuild`` recomputes it all from ``with_facts`` (the
migration's backfill, ``manage.py rollup --rebuild``); ``differences`` compares it with
``with_facts`` group by group (``manage.py rollup --check``, the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import Count, DateField, F, Func, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from chargers.choices import SessionStatus
from chargers.models import ChargeSession
from portal.tenancy import assert_restricted
from reporting.models import DailyUsage
from reporting.periods import DateRange, local_midnight
from reporting.queries import (
    MONEY,
    GroupBy,
    LocalBucket,
    SessionFilter,
    SummaryRow,
    Totals,
    Usage,
    energy_points,
    facts_of,
    key_and_label,
    sort_summary,
    summarise,
    totals,
    usage_of,
)

# In the rollup: finished sessions. The rest is read raw; the partial index
# ``reporting_session_unfinished`` has exactly this condition.
FINISHED = Q(status=SessionStatus.COMPLETED, stopped_at__isnull=False)
UNFINISHED = ~Q(status=SessionStatus.COMPLETED) | Q(stopped_at__isnull=True)

COLUMNS = (
    "installation_id",
    "day",
    "charger_id",
    "user_id",
    "card_id",
    "currency",
    "sessions",
    "energy_wh",
    "connected_s",
    "charging_s",
    "idle_s",
    "cost",
)


# ---------- upkeep ----------


def _reference_sql(using: str, priced: bool = True) -> tuple[str, tuple[Any, ...]]:
    """The rollup's rows computed from the sessions by ``with_facts``, in ``COLUMNS`` order."""
    rows = (
        facts_of(ChargeSession.objects.using(using).filter(FINISHED), priced=priced)
        .annotate(
            day=LocalBucket("day", F("charger__installation__time_zone"), F("started_at")),
            group_installation=F("charger__installation_id"),
        )
        .order_by()
        .values("group_installation", "day", "charger_id", "user_id", "card_id", "currency")
        .annotate(
            n=Count("id"),
            energy=Sum("energy_wh"),
            connected=Sum("connected_s"),
            charging=Sum("charging_seconds"),
            idle=Sum("idle_s"),
            money=Coalesce(Sum("cost"), Value(Decimal(0)), output_field=MONEY),
        )
    )
    sql, params = rows.query.sql_with_params()
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
        names = [column.name for column in cursor.description]
    reference_names = (
        *("group_installation", "day", "charger_id", "user_id", "card_id", "currency"),
        *("n", "energy", "connected", "charging", "idle", "money"),
    )
    by_name = dict(zip(reference_names, COLUMNS, strict=True))
    position = {by_name[name]: n for n, name in enumerate(names, start=1)}
    picked = ", ".join(f"q.c{position[column]}" for column in COLUMNS)
    aliases = ", ".join(f"c{n}" for n in range(1, len(names) + 1))
    return f"SELECT {picked} FROM ({sql}) AS q ({aliases})", params


def rebuild(using: str = "default", priced: bool = True) -> int:
    """Recompute the whole rollup from the sessions (holding session writes off meanwhile);
    the number of rows. ``priced=False``: see ``queries.facts_of``."""
    select, params = _reference_sql(using, priced)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("LOCK TABLE chargers_chargesession IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("DELETE FROM reporting_dailyusage")
        cursor.execute(
            f"INSERT INTO reporting_dailyusage ({', '.join(COLUMNS)}) {select}",
            params,
        )
        return cursor.rowcount


def differences(using: str = "default", limit: int = 20) -> list[tuple[str, tuple[Any, ...]]]:
    """Rollup rows that ``with_facts`` over the sessions does not give (``("extra", row)``) and
    rows it gives that the rollup lacks or holds otherwise (``("missing", row)``): empty when
    the rollup is exact."""
    select, params = _reference_sql(using)
    stored = f"SELECT {', '.join(COLUMNS)} FROM reporting_dailyusage"
    sql = (
        f"(SELECT 'extra', * FROM ({stored} EXCEPT ALL {select}) AS a) UNION ALL "
        f"(SELECT 'missing', * FROM ({select} EXCEPT ALL {stored}) AS b) LIMIT {int(limit)}"
    )
    with connections[using].cursor() as cursor:  # one statement: one snapshot
        cursor.execute(sql, params + params)
        return [(row[0], tuple(row[1:])) for row in cursor.fetchall()]


# ---------- reading ----------


class LocalDay(Func):
    """The first day of the ISO week or month of a date column."""

    template = "(date_trunc('%(unit)s', %(expressions)s))::date"
    output_field = DateField()


ROLLUP_BUCKETS: dict[GroupBy, Any] = {
    GroupBy.DAY: F("day"),
    GroupBy.WEEK: LocalDay(F("day"), unit="week"),
    GroupBy.MONTH: LocalDay(F("day"), unit="month"),
}

ROLLUP_SUMS = {
    "n": Coalesce(Sum("sessions"), 0),
    "energy": Coalesce(Sum("energy_wh"), 0),
    "connected": Coalesce(Sum("connected_s"), 0),
    "charging": Coalesce(Sum("charging_s"), 0),
    "idle": Coalesce(Sum("idle_s"), 0),
    "money": Coalesce(Sum("cost"), Value(Decimal(0)), output_field=MONEY),
}


def _plus(one: Usage, other: Usage) -> Usage:
    return Usage(
        sessions=one.sessions + other.sessions,
        energy_wh=one.energy_wh + other.energy_wh,
        connected_s=one.connected_s + other.connected_s,
        charging_s=one.charging_s + other.charging_s,
        idle_s=one.idle_s + other.idle_s,
        cost=one.cost + other.cost,
        currency=one.currency,
    )


def _days_of(moment: datetime, zone: ZoneInfo) -> date | None:
    """The local day that ``moment`` begins, when it is a local midnight of ``zone``."""
    day = moment.astimezone(zone).date()
    return day if local_midnight(day, zone) == moment else None


# PostgreSQL overestimates the groups of an aggregate over the rollup (the tenancy filter's OR
# and the installations' IN), and with the default 4 MB it sorted every row on disk instead of
# hashing the groups: 790 ms against 270 ms for a year across 1,000 installations.
AGGREGATE_WORK_MEM = "32MB"


def _aggregate(query: QuerySet[Any]) -> list[dict[str, Any]]:
    """The rows of an aggregate over the rollup, with room to hash its groups."""
    with transaction.atomic(using=query.db), connections[query.db].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{AGGREGATE_WORK_MEM}'")
        return list(query)


def _aggregate_sql(sql: str, params: Any, using: str) -> list[tuple[Any, ...]]:
    """``_aggregate`` for SQL the ORM cannot say (``GROUPING SETS``)."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{AGGREGATE_WORK_MEM}'")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _merged(rows: list[SummaryRow], more: list[SummaryRow], group_by: GroupBy) -> list[SummaryRow]:
    """``rows`` with ``more`` added (the same installation, key and currency: one row)."""
    merged: dict[tuple[int, Any, str], SummaryRow] = {}
    for row in [*rows, *more]:
        slot = (row.installation_id, row.key, row.usage.currency)
        found = merged.get(slot)
        if found is None:
            merged[slot] = replace(row)
        else:
            found.usage = _plus(found.usage, row.usage)
    return sort_summary(list(merged.values()), group_by)


def chart_group(days: DateRange | None) -> GroupBy:
    """The energy chart's bars: per day for two months or less, else per month."""
    span = (days.last - days.first).days if days else None
    return GroupBy.DAY if span is not None and span <= 62 else GroupBy.MONTH


# The summary key's column in the rollup (time buckets: an annotation), and for the others the
# model whose labels name it, with the fields ``queries.key_and_label`` reads.
ROLLUP_KEYS: dict[GroupBy, str | None] = {
    GroupBy.USER: "user_id",
    GroupBy.CARD: "card_id",
    GroupBy.CHARGER: "charger_id",
    GroupBy.DAY: "bucket",
    GroupBy.WEEK: "bucket",
    GroupBy.MONTH: "bucket",
    GroupBy.INSTALLATION: None,
}
LABELS: dict[GroupBy, tuple[str, str, tuple[str, ...]]] = {
    GroupBy.USER: ("accounts.User", "user", ("name", "email")),
    GroupBy.CARD: ("auth_access.ChargeCard", "card", ("name", "id_tag")),
    GroupBy.CHARGER: ("chargers.Charger", "charger", ("name",)),
}


def _labels(group_by: GroupBy, keys: set[Any]) -> dict[Any, dict[str, Any]]:
    """The label fields of ``keys`` by primary key (keys read from rows the gate allowed)."""
    if group_by not in LABELS:
        return {}
    from django.apps import apps

    model_name, prefix, fields = LABELS[group_by]
    model = apps.get_model(model_name)
    found = model._base_manager.filter(pk__in=[k for k in keys if k is not None])
    return {
        pk: {f"{prefix}__{name}": value for name, value in zip(fields, values, strict=True)}
        for pk, *values in found.values_list("pk", *fields)
    }


def _rollup_summaries(
    rows: QuerySet[DailyUsage], group_by: GroupBy, chart: GroupBy | None
) -> tuple[list[SummaryRow], list[SummaryRow]]:
    """Sums of the rollup rows per installation, ``group_by`` key and currency, and per
    ``chart`` bucket and currency over all the installations (the energy chart), in one
    aggregate over the ids only (``GROUPING SETS``); the labels are read afterwards by primary
    key (grouping by joined names sorted every row). The chart's rows have installation 0."""
    from installations.models import Installation

    key = ROLLUP_KEYS[group_by]
    if group_by in ROLLUP_BUCKETS:
        rows = rows.annotate(bucket=ROLLUP_BUCKETS[group_by])
    if chart is not None:
        rows = rows.annotate(chart=ROLLUP_BUCKETS[chart])
    columns = ["installation_id", *([key] if key else []), *(["chart"] if chart else [])]
    grouped = rows.order_by().values(*columns, "currency").annotate(**ROLLUP_SUMS)
    try:
        sql, params = grouped.query.sql_with_params()
    except EmptyResultSet:  # a filter that selects no row of the rollup
        return [], []
    using = rows.db
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
        names = [column.name for column in cursor.description]
    at = {name: f"q.c{n}" for n, name in enumerate(names, start=1)}
    aliases = ", ".join(f"c{n}" for n in range(1, len(names) + 1))
    sums = ", ".join(f"SUM({at[name]})" for name in ROLLUP_SUMS)
    summary_key = ", ".join([at["installation_id"], *([at[key]] if key else []), at["currency"]])
    if chart is not None:
        flag = f"GROUPING({at['installation_id']})"  # 1: a row of the chart
        group = f"GROUPING SETS (({summary_key}), ({at['chart']}, {at['currency']}))"
    else:
        flag, group = "0", summary_key
    outer = (
        f"SELECT {flag}, {at['installation_id']}, {at[key] if key else 'NULL'}, "
        f"{at['chart'] if chart else 'NULL'}, {at['currency']}, {sums} "
        f"FROM ({sql}) AS q ({aliases}) GROUP BY {group}"
    )
    found = _aggregate_sql(outer, params, using)
    names_by_pk = dict(
        Installation._base_manager.filter(
            pk__in={row[1] for row in found if not row[0]}
        ).values_list("pk", "name")
    )
    labels = _labels(group_by, {row[2] for row in found if not row[0]} if key else set())
    cent = Decimal("0.01")
    summary: list[SummaryRow] = []
    series: list[SummaryRow] = []
    for in_chart, installation_id, key_value, bucket, currency, *values in found:
        n, energy, connected, charging, idle, money = values
        usage = Usage(
            sessions=int(n), energy_wh=int(energy), connected_s=int(connected),
            charging_s=int(charging), idle_s=int(idle),
            cost=Decimal(money).quantize(cent), currency=currency or "",
        )  # fmt: skip
        g = chart if in_chart else group_by
        fields: dict[str, Any] = {"installation_id": 0 if in_chart else installation_id}
        fields["installation__name"] = "" if in_chart else names_by_pk.get(installation_id, "")
        column = ROLLUP_KEYS[g]  # type: ignore[index]
        if column:
            fields[column] = bucket if in_chart else key_value
        if not in_chart:
            fields.update(labels.get(key_value, {}))
        if g in LABELS:
            for name in LABELS[g][2]:  # type: ignore[index]
                fields.setdefault(f"{LABELS[g][1]}__{name}", "")  # type: ignore[index]
        k, label = key_and_label(g, fields)  # type: ignore[arg-type]
        made = SummaryRow(
            installation_id=fields["installation_id"],
            installation_name=fields["installation__name"],
            key=k,
            label=label,
            usage=usage,
        )
        (series if in_chart else summary).append(made)
    return summary, series


def totals_of(rows: list[SummaryRow]) -> Totals:
    """The totals of the sessions a summary covers: the sums of its rows, costs per currency."""
    overall = Usage()
    by_currency: dict[str, Decimal] = {}
    for row in rows:
        overall.add(row.usage)
        if row.usage.sessions:
            currency = row.usage.currency
            by_currency[currency] = by_currency.get(currency, Decimal("0.00")) + row.usage.cost
    return Totals(all=overall, cost_by_currency=sorted(by_currency.items()))


@dataclass(frozen=True)
class UsageSource:
    """What a report sums: the sessions the user may see under the page's own narrowing
    (``sessions``), the rollup rows under the same narrowing (``usage``; both restricted for
    the same user), the page's filter, and the page's time zone (None: across installations).
    ``valid`` False: the filters are invalid and the report covers nothing.

    Summaries are kept per ``group_by`` for the source's life (a page), and the totals are the
    sums of any summary already made: its rows split the same sessions by key and currency, so
    a page scans its sessions once for the summary and the totals together."""

    sessions: QuerySet[ChargeSession]
    usage: QuerySet[DailyUsage]
    session_filter: SessionFilter
    zone: ZoneInfo | None
    valid: bool = True
    summaries: dict[GroupBy, list[SummaryRow]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        assert_restricted(self.sessions)
        assert_restricted(self.usage)

    def selected(self) -> QuerySet[ChargeSession]:
        if not self.valid:
            return self.sessions.none()
        return self.session_filter.apply(self.sessions)

    def split(self) -> tuple[QuerySet[DailyUsage] | None, QuerySet[ChargeSession]]:
        """The rollup rows of the finished sessions the filter selects and the raw sessions of
        the rest; (None, every selected session) when the rollup cannot answer the filter."""
        selected = self.selected()
        rows = self._rows()
        if rows is None:
            return None, selected
        return rows, selected.filter(UNFINISHED)

    def _rows(self) -> QuerySet[DailyUsage] | None:
        f = self.session_filter
        if not self.valid:
            return self.usage.none()
        if f.search:
            return None
        rows = self.usage
        exact = {
            "installation_id": f.installation_id,
            "charger_id": f.charger_id,
            "user_id": f.user_id,
            "card_id": f.card_id,
        }
        rows = rows.filter(**{key: value for key, value in exact.items() if value})
        if f.status and f.status != SessionStatus.COMPLETED:
            rows = rows.none()  # only finished sessions are in the rollup
        if f.start is not None or f.end is not None:
            if self.zone is None:
                return None
            if f.start is not None:
                first = _days_of(f.start, self.zone)
                if first is None:
                    return None
                rows = rows.filter(day__gte=first)
            if f.end is not None:
                after = _days_of(f.end, self.zone)
                if after is None:
                    return None
                rows = rows.filter(day__lt=after)
        if f.days is not None:
            rows = rows.filter(day__gte=f.days.first, day__lte=f.days.last)
        return rows

    def totals(self) -> Totals:
        for made in self.summaries.values():
            return totals_of(made)
        rows, rest = self.split()
        raw = totals(rest)
        if rows is None:
            return raw
        by_currency = {usage_cost[0]: usage_cost[1] for usage_cost in raw.cost_by_currency}
        overall = raw.all
        for row in _aggregate(rows.order_by().values("currency").annotate(**ROLLUP_SUMS)):
            usage = usage_of(row)
            if not usage.sessions:
                continue
            overall = _plus(overall, Usage(**{**usage.__dict__, "cost": Decimal("0.00")}))
            currency = usage.currency
            by_currency[currency] = by_currency.get(currency, Decimal("0.00")) + usage.cost
        overall.currency = ""
        return Totals(all=overall, cost_by_currency=sorted(by_currency.items()))

    def summarise(self, group_by: GroupBy) -> list[SummaryRow]:
        if group_by not in self.summaries:
            self.summaries[group_by] = self._summarise(group_by)
        return self.summaries[group_by]

    def _summarise(self, group_by: GroupBy) -> list[SummaryRow]:
        return self._summary_and_chart(group_by, None)[0]

    def _summary_and_chart(
        self, group_by: GroupBy, chart: GroupBy | None
    ) -> tuple[list[SummaryRow], list[SummaryRow]]:
        """The summary per ``group_by`` and, from the same scan of the rollup, the energy per
        ``chart`` bucket and currency over all the installations (installation 0)."""
        rows, rest = self.split()
        if rows is None:
            return summarise(rest, group_by), summarise(rest, chart) if chart else []
        summary, series = _rollup_summaries(rows, group_by, chart)
        merged = _merged(summary, summarise(rest, group_by), group_by)  # + those not finished
        if chart is None:
            return merged, []
        raw_series = [replace(r, installation_id=0) for r in summarise(rest, chart)]
        return merged, _merged(series, raw_series, chart)

    def summary_and_series(
        self, group_by: GroupBy, days: DateRange | None
    ) -> tuple[list[SummaryRow], tuple[GroupBy, list[tuple[str, float]]]]:
        """A Usage page's summary and energy chart (``energy_series``) from one scan."""
        chart = chart_group(days)
        if group_by == chart or group_by in self.summaries:
            return self.summarise(group_by), self.energy_series(days)
        summary, series = self._summary_and_chart(group_by, chart)
        self.summaries[group_by] = summary
        return summary, energy_points(lambda _group_by: series, days)

    def energy_series(self, days: DateRange | None) -> tuple[GroupBy, list[tuple[str, float]]]:
        return energy_points(self.summarise, days)
