"""The cost of a finished session, slot by slot (docs/tariffs.md "Cost").

A session costs the sum over its price slots (``tariffs.prices.price_slots``: hours, cut where
the price changes) of the energy it took in the slot (``reporting.energy``: its energy curve,
interpolated between its readings, whole Wh that add up to its energy) times the slot's price,
rounded to the cent once for the session. That is written once, when the session has ended, as
a ``SessionCost`` (``price_finished``, every minute), and reports read it: the prices of hours
that have passed never change (tariffs, day-ahead prices and holidays are never written into
the past), so the cost is final.

A session whose slots are all priced by the flat price, or priced in more than one currency,
keeps the flat rule (its energy times the price in force when it ended): its row has no cost.
``slots_cost`` is the pure core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from chargers.choices import SessionStatus
from chargers.models import ChargeSession
from reporting.energy import cumulative, split
from reporting.meter import meters
from tariffs.choices import PriceSource
from tariffs.models import DayAheadPrice, SessionCost, Tariff
from tariffs.prices import PriceSlot, price_slots

# Sessions that ended this long ago at most are priced by the sweep (it runs every minute; the
# margin covers a worker that was down).
LOOKBACK = timedelta(days=2)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Priced:
    """A session's cost from its slots; ``cost`` None: the flat rule applies."""

    cost: Decimal | None
    currency: str
    price_per_kwh: Decimal | None
    slots: list[dict[str, Any]]


def slots_cost(energy_by_start: dict[datetime, int], slots: Sequence[PriceSlot]) -> Priced:
    """Price the energy per slot start (``energy_by_start``, from ``split``) with ``slots``."""
    rows: list[dict[str, Any]] = []
    total = Decimal(0)
    energy = 0
    currencies = set()
    priced_by_slots = False
    for slot in slots:
        wh = energy_by_start.get(slot.start, 0)
        price = slot.price_per_kwh
        amount = (Decimal(wh) * price / 1000) if price is not None else Decimal(0)
        rows.append(
            {
                "start": slot.start.isoformat(),
                "end": slot.end.isoformat(),
                "energy_wh": wh,
                "price_per_kwh": str(price) if price is not None else None,
                "currency": slot.currency,
                "source": slot.source,
                "cost": str(amount.quantize(Decimal("0.0001"), ROUND_HALF_UP)),
            }
        )
        total += amount
        energy += wh
        if wh > 0 and price is not None:
            currencies.add(slot.currency)
            priced_by_slots |= slot.source != PriceSource.FLAT
    if not priced_by_slots or len(currencies) > 1:
        return Priced(None, "", None, rows)
    cost = total.quantize(CENT, ROUND_HALF_UP)
    average = (total * 1000 / energy).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return Priced(cost, currencies.pop(), average, rows)


def price_sessions(sessions: Sequence[ChargeSession], now: datetime | None = None) -> int:
    """Write (or rewrite) the ``SessionCost`` of finished sessions (with ``connector`` and
    ``charger__installation`` loaded): one query for their meter values, one per session for
    its prices. Returns how many were written."""
    now = now or timezone.now()
    finished = [s for s in sessions if s.status == SessionStatus.COMPLETED and s.stopped_at]
    if not finished:
        return 0
    curves = {pk: cumulative(meter) for pk, meter in meters(finished, now).items()}
    written = 0
    for session in finished:
        slots = price_slots(session.charger.installation, session.started_at, session.stopped_at)
        if slots:
            energy = split(curves[session.pk], [slot.start for slot in slots])
        else:  # a session of no duration: all of its energy at its one instant
            slots = price_slots(
                session.charger.installation,
                session.stopped_at,
                session.stopped_at + timedelta(microseconds=1),
            )
            energy = {slots[0].start: session.energy_wh}
        priced = slots_cost(energy, slots)
        SessionCost.objects.update_or_create(
            session=session,
            defaults={
                "cost": priced.cost,
                "currency": priced.currency,
                "price_per_kwh": priced.price_per_kwh,
                "energy_wh": session.energy_wh,
                "stopped_at": session.stopped_at,
                "slots": priced.slots,
                "priced_at": now,
            },
        )
        written += 1
    return written


def due(now: datetime | None = None) -> Any:
    """Finished sessions of the last ``LOOKBACK`` at installations with a tariff or day-ahead
    prices, not priced yet or changed since (their energy or end)."""
    now = now or timezone.now()
    installation = OuterRef("charger__installation_id")
    has_prices = Exists(
        Tariff.objects.filter(
            installation_id=installation, effective_from__lt=OuterRef("stopped_at")
        )
    ) | Exists(
        DayAheadPrice.objects.filter(
            installation_id=installation,
            start__lt=OuterRef("stopped_at"),
            end__gt=OuterRef("started_at"),
        )
    )
    return (
        ChargeSession.objects.filter(
            status=SessionStatus.COMPLETED,
            stopped_at__isnull=False,
            stopped_at__gte=now - LOOKBACK,
        )
        .filter(
            Q(priced_cost__isnull=True)
            | ~Q(priced_cost__energy_wh=F("energy_wh"))
            | ~Q(priced_cost__stopped_at=F("stopped_at"))
        )
        .filter(has_prices)
        .select_related("connector", "charger__installation")
        .order_by("stopped_at")
    )


def price_finished(now: datetime | None = None, batch: int = 500) -> int:
    """Price the sessions that are due (``due``), ``batch`` at a time; safe to run twice (a
    second run finds them priced). Returns how many were written."""
    now = now or timezone.now()
    written = 0
    seen: set[int] = set()
    while True:
        sessions = [s for s in due(now).exclude(pk__in=seen)[:batch]]
        if not sessions:
            return written
        seen.update(s.pk for s in sessions)
        written += price_sessions(sessions, now)
