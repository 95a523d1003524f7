"""What the exports of history, summaries and energy over time contain: columns and typed rows
(``exports.Table``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Func, QuerySet
from django.utils import timezone

from chargers.choices import SessionStatus, StopReason
from chargers.models import ChargeSession
from reporting.energy import Interval
from reporting.exports import Column, Kind, Table
from reporting.hourly import EnergyRow
from reporting.queries import GroupBy, Sort, SummaryRow, sort_ordering, totals, with_facts

HISTORY_COLUMNS = [
    Column("Start", Kind.DATETIME, 20),
    Column("End", Kind.DATETIME, 20),
    Column("Connected", Kind.DURATION, 11),
    Column("Charging", Kind.DURATION, 11),
    Column("Idle", Kind.DURATION, 11),
    Column("Energy (kWh)", Kind.KWH, 13),
    Column("Cost", Kind.MONEY, 11),
    Column("Currency", Kind.TEXT, 9),
    Column("Price per kWh", Kind.MONEY, 13),
    Column("Driver", Kind.TEXT, 24),
    Column("Card", Kind.TEXT, 22),
    Column("Charger", Kind.TEXT, 16),
    Column("Installation", Kind.TEXT, 22),
    Column("Stop reason", Kind.TEXT, 18),
    Column("Status", Kind.TEXT, 11),
    Column("Session", Kind.INTEGER, 10),
]


def card_label(session: ChargeSession) -> str:
    if session.card is not None:
        return session.card.name or session.card.id_tag
    return session.id_tag


def _zone(name: str, cache: dict[str, ZoneInfo]) -> ZoneInfo:
    if name not in cache:
        cache[name] = ZoneInfo(name)
    return cache[name]


# What a history row reads: plain values (no model instances), in this order.
HISTORY_FIELDS = (
    "started_us", "stopped_us", "connected_s", "charging_seconds", "idle_s", "energy_wh", "cost",
    "currency", "price", "user__name", "user__email", "card__name", "card__id_tag", "id_tag",
    "charger__name", "charger__installation__name", "charger__installation__time_zone",
    "stop_reason", "status", "id",
)  # fmt: skip
STOP_REASONS = dict(StopReason.choices)
STATUSES = dict(SessionStatus.choices)
# Rows fetched per round trip from the server-side cursor.
HISTORY_CHUNK_ROWS = 5000


class EpochMicroseconds(Func):
    """An instant as whole microseconds since 1970 (a bigint): read as an integer and turned
    into local time by one ``datetime.fromtimestamp``, where a ``timestamptz`` column is parsed
    from text and then converted twice (the larger part of a large export's time)."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()


def _local(microseconds: int, zone: ZoneInfo) -> datetime:
    seconds, micro = divmod(microseconds, 1_000_000)
    moment = datetime.fromtimestamp(seconds, zone)
    return moment.replace(microsecond=micro) if micro else moment


def history_rows(
    sessions: QuerySet[ChargeSession], sort: Sort = Sort.NEWEST
) -> Iterator[list[Any]]:
    """One row per session in the history's ``sort`` order (newest first unless the page was
    sorted otherwise), times in each session's installation time zone.

    Read as tuples through a server-side cursor (``values_list().iterator()``): a million rows
    stream in constant memory, several times faster than model instances.
    """
    zones: dict[str, ZoneInfo] = {}
    rows = (
        with_facts(sessions)
        .annotate(
            started_us=EpochMicroseconds("started_at"), stopped_us=EpochMicroseconds("stopped_at")
        )
        .order_by(*sort_ordering(sort))
        .values_list(*HISTORY_FIELDS)
    )
    for (
        started_us, stopped_us, connected_s, charging_s, idle_s, energy_wh, cost, currency, price,
        user_name, user_email, card_name, card_tag, id_tag, charger, installation, zone_name,
        stop_reason, status, pk,
    ) in rows.iterator(chunk_size=HISTORY_CHUNK_ROWS):  # fmt: skip
        zone = zones.get(zone_name) or _zone(zone_name, zones)
        yield [
            _local(started_us, zone),
            _local(stopped_us, zone) if stopped_us is not None else None,
            timedelta(seconds=connected_s),
            timedelta(seconds=charging_s),
            timedelta(seconds=idle_s),
            Decimal(energy_wh).scaleb(-3),
            cost,
            currency,
            price,
            user_name or user_email or "",
            (card_name or card_tag) if card_tag is not None else id_tag,
            charger,
            installation,
            STOP_REASONS.get(stop_reason, stop_reason),
            STATUSES.get(status, status),
            pk,
        ]


def _single_cost(costs: list[tuple[str, Decimal]]) -> tuple[Decimal | None, str]:
    """A total cost as a number when there is one currency; in words when there are several."""
    if len(costs) == 1:
        currency, cost = costs[0]
        return cost, currency
    return None, " + ".join(f"{cost} {currency}" for currency, cost in costs)


def history_table(
    sessions: QuerySet[ChargeSession],
    filters: dict[str, str],
    time_zone: str,
    sort: Sort = Sort.NEWEST,
) -> Table:
    def totals_row() -> list[Any]:
        sums = totals(sessions)
        cost, currency = _single_cost(sums.cost_by_currency)
        usage = sums.all
        return [
            f"Total: {usage.sessions} sessions", None,
            timedelta(seconds=usage.connected_s), timedelta(seconds=usage.charging_s),
            timedelta(seconds=usage.idle_s), Decimal(usage.energy_wh) / 1000, cost, currency,
            None, "", "", "", "", "", "", None,
        ]  # fmt: skip

    return Table(
        title="Charging history",
        columns=HISTORY_COLUMNS,
        rows=history_rows(sessions, sort),
        totals=totals_row,
        filters=filters,
        exported_at=timezone.now().astimezone(ZoneInfo(time_zone or "UTC")),
        time_zone=time_zone or "each installation's own",
    )


KEY_TITLES = {
    GroupBy.USER: "Driver",
    GroupBy.CARD: "Card",
    GroupBy.CHARGER: "Charger",
    GroupBy.DAY: "Day",
    GroupBy.WEEK: "Week (from Monday)",
    GroupBy.MONTH: "Month",
    GroupBy.INSTALLATION: "Installation",
}


def usage_columns(group_by: GroupBy) -> list[Column]:
    key_kind = Kind.DATE if group_by.is_time else Kind.TEXT
    return [
        Column("Installation", Kind.TEXT, 22),
        Column(KEY_TITLES[group_by], key_kind, 24),
        Column("Sessions", Kind.INTEGER, 10),
        Column("Energy (kWh)", Kind.KWH, 13),
        Column("Connected", Kind.DURATION, 12),
        Column("Charging", Kind.DURATION, 12),
        Column("Idle", Kind.DURATION, 12),
        Column("Cost", Kind.MONEY, 12),
        Column("Currency", Kind.TEXT, 9),
    ]


def usage_row(row: SummaryRow, group_by: GroupBy) -> list[Any]:
    usage = row.usage
    return [
        row.installation_name,
        row.key if group_by.is_time else row.label,
        usage.sessions,
        Decimal(usage.energy_wh) / 1000,
        timedelta(seconds=usage.connected_s),
        timedelta(seconds=usage.charging_s),
        timedelta(seconds=usage.idle_s),
        usage.cost,
        usage.currency,
    ]


def usage_totals_row(rows: list[SummaryRow]) -> list[Any]:
    sessions = sum(r.usage.sessions for r in rows)
    costs: dict[str, Decimal] = {}
    for r in rows:
        costs[r.usage.currency] = costs.get(r.usage.currency, Decimal("0.00")) + r.usage.cost
    cost, currency = _single_cost(sorted(costs.items()))
    return [
        f"Total: {sessions} sessions",
        None,
        sessions,
        Decimal(sum(r.usage.energy_wh for r in rows)) / 1000,
        timedelta(seconds=sum(r.usage.connected_s for r in rows)),
        timedelta(seconds=sum(r.usage.charging_s for r in rows)),
        timedelta(seconds=sum(r.usage.idle_s for r in rows)),
        cost,
        currency,
    ]


def usage_table(
    rows: list[SummaryRow], group_by: GroupBy, filters: dict[str, str], time_zone: str
) -> Table:
    return Table(
        title=f"Usage per {KEY_TITLES[group_by].split()[0].lower()}",
        columns=usage_columns(group_by),
        rows=(usage_row(row, group_by) for row in rows),
        totals=lambda: usage_totals_row(rows),
        filters={**filters, "Per": KEY_TITLES[group_by]},
        exported_at=timezone.now().astimezone(ZoneInfo(time_zone or "UTC")),
        time_zone=time_zone or "each installation's own",
    )


def export_filename(stem: str, fmt: str, at: datetime | None = None) -> str:
    moment = at or timezone.now()
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem).strip("-").lower()
    return f"{safe or 'export'}-{moment:%Y%m%d-%H%M}.{fmt}"


def energy_table(
    rows: list[EnergyRow], interval: Interval, filters: dict[str, str], time_zone: str
) -> Table:
    """Energy per hour (times in ``time_zone``) or per local day."""
    zone = ZoneInfo(time_zone or "UTC")
    columns = [
        Column("Start", Kind.DATETIME, 20),
        Column("End", Kind.DATETIME, 20),
        Column("Energy (kWh)", Kind.KWH, 13),
        Column("Estimated (kWh)", Kind.KWH, 15),
        Column("Sessions", Kind.INTEGER, 10),
    ]
    return Table(
        title=f"Energy per {interval.value}",
        columns=columns,
        rows=(
            [
                row.start.astimezone(zone),
                row.end.astimezone(zone),
                Decimal(row.energy_wh) / 1000,
                Decimal(row.estimated_wh) / 1000,
                row.sessions,
            ]
            for row in rows
        ),
        totals=lambda: [
            f"Total: {len(rows)} {interval.value}s",
            None,
            Decimal(sum(r.energy_wh for r in rows)) / 1000,
            Decimal(sum(r.estimated_wh for r in rows)) / 1000,
            None,
        ],
        filters={**filters, "Per": interval.value},
        exported_at=timezone.now().astimezone(zone),
        time_zone=str(zone),
    )
