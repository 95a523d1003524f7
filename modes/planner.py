"""Departure plans, pure: from now, the departure, the energy still needed, the car's limits and
the price slots, the current per slot that meets the need in the cheapest hours first.

Recomputed at every balancing solve from the energy actually delivered, so a car that got less
than planned (the fuses were busy) is planned again over the time it has left. The rules
(docs/balancing.md "Charge modes"):

- **Met**: nothing more needed: the car is paused (cap 0 A).
- **Missed**: the departure has passed with energy still needed: no cap, base priority (the car
  charges as in Now while it stays).
- **Cannot be met**: even the car's maximum from now to the departure is not enough: cap = the
  maximum, priority raised.
- **Behind**: the need cannot be met within the planning window (the time to the departure less
  a reserve of ``RESERVE`` or a quarter of the time left, the smaller, but at least
  ``MIN_RESERVE``: in the last minutes any need is behind): priority raised, cap =
  the catch-up current, the constant current that meets the need exactly at the departure.
- **On track**: the cheapest slots of the planning window are filled first (the earlier of
  equal prices first) at the maximum, the last one at the current that completes the need (or
  at the minimum for part of the slot); the cap now is the current of the slot that holds now,
  0 A when now is not planned. Base priority.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from modes.choices import PlanStatus

RESERVE = timedelta(minutes=30)
# The last minutes are always reserve, however short the time left: balancing may not come back
# before the departure to catch up a car that shared its current while "on track" in them.
MIN_RESERVE = timedelta(minutes=5)
# Below this the need counts as met (a meter's rounding).
MET_BELOW_WH = 10.0


@dataclass(frozen=True)
class PriceSlot:
    """A price in force from ``start`` to ``end`` (None: unknown, counts as the same as any)."""

    start: datetime
    end: datetime
    price_per_kwh: Decimal | float | None


@dataclass(frozen=True)
class Slot:
    """A planned current (A per phase) from ``start`` to ``end``."""

    start: datetime
    end: datetime
    current_a: float

    def as_json(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "current_a": self.current_a,
        }


@dataclass(frozen=True)
class Plan:
    """What a departure plan asks of balancing now, and why."""

    status: PlanStatus
    cap_a: float | None  # None: no cap of the plan's
    boost: bool  # raise the car's priority
    needed_wh: float
    reason: str
    slots: list[Slot] = field(default_factory=list)

    def energy_wh(self, voltage_v: float, phases: int) -> float:
        """The energy the plan's slots deliver."""
        return sum(
            slot.current_a * voltage_v * phases * (slot.end - slot.start).total_seconds() / 3600
            for slot in self.slots
        )


def _ceil_da(current_a: float) -> float:
    """Rounded up to 0.1 A (a plan's current must not fall short by the rounding)."""
    return math.ceil(round(current_a * 10, 6)) / 10


def reserve_for(time_left: timedelta) -> timedelta:
    return min(RESERVE, max(time_left / 4, MIN_RESERVE))


def make_plan(
    now: datetime,
    departure: datetime,
    needed_wh: float,
    *,
    min_current_a: float,
    max_current_a: float,
    phases: int,
    voltage_v: float,
    prices: Sequence[PriceSlot] = (),
) -> Plan:
    """The plan from ``now`` for a car that still needs ``needed_wh`` by ``departure``.

    ``max_current_a``: the most the car can take (its charger's maximum, lowered by caps and the
    fuses on its path); ``phases``: the phases it charges on; ``prices``: the price slots over
    [now, departure) (a gap or an unknown price is planned after every known price)."""
    if needed_wh < MET_BELOW_WH:
        return Plan(PlanStatus.MET, 0.0, False, 0.0, "need met")
    if now >= departure:
        return Plan(
            PlanStatus.MISSED, None, False, needed_wh, f"departure passed, {needed_wh:.0f} Wh short"
        )
    watts_per_amp = voltage_v * phases
    time_left = departure - now
    hours_left = time_left.total_seconds() / 3600
    full_wh = max_current_a * watts_per_amp * hours_left
    if full_wh < needed_wh or max_current_a < min_current_a:
        return Plan(
            PlanStatus.CANNOT_BE_MET,
            max_current_a,
            True,
            needed_wh,
            f"cannot be met: {full_wh:.0f} of {needed_wh:.0f} Wh at {max_current_a:g} A",
            [Slot(now, departure, max_current_a)],
        )
    window_end = departure - reserve_for(time_left)
    window_wh = max_current_a * watts_per_amp * (window_end - now).total_seconds() / 3600
    if window_wh < needed_wh:
        catch_up = min(
            max_current_a, max(min_current_a, _ceil_da(needed_wh / (watts_per_amp * hours_left)))
        )
        return Plan(
            PlanStatus.BEHIND,
            catch_up,
            True,
            needed_wh,
            f"behind: {catch_up:g} A to the departure catches up",
            [Slot(now, departure, catch_up)],
        )
    slots = _cheapest_first(
        _priced(now, window_end, prices),
        needed_wh,
        min_current_a=min_current_a,
        max_current_a=max_current_a,
        watts_per_amp=watts_per_amp,
    )
    current = next((slot.current_a for slot in slots if slot.start <= now < slot.end), 0.0)
    reason = f"on track: {current:g} A now" if current else "on track: waits for cheaper hours"
    return Plan(PlanStatus.ON_TRACK, current, False, needed_wh, reason, slots)


def _priced(
    start: datetime, end: datetime, prices: Sequence[PriceSlot]
) -> list[tuple[datetime, datetime, float]]:
    """[start, end) cut into (start, end, price) pieces at every price change and hour; a piece
    without a known price is planned after every priced one."""
    fallback = math.inf  # unknown: planned after every known price (earliest first among them)
    cuts = {start, end}
    for slot in prices:
        for moment in (slot.start, slot.end):
            if start < moment < end:
                cuts.add(moment)
    hour = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour < end:
        cuts.add(hour)
        hour += timedelta(hours=1)
    ordered = sorted(cuts)
    priced = sorted(
        (slot for slot in prices if slot.price_per_kwh is not None), key=lambda slot: slot.start
    )
    pieces = []
    index = 0
    for piece_start, piece_end in pairwise(ordered):
        while index < len(priced) and priced[index].end <= piece_start:
            index += 1
        slot = priced[index] if index < len(priced) else None
        price = (
            float(slot.price_per_kwh)  # type: ignore[arg-type]
            if slot is not None and slot.start <= piece_start
            else fallback
        )
        pieces.append((piece_start, piece_end, price))
    return pieces


def _cheapest_first(
    pieces: list[tuple[datetime, datetime, float]],
    needed_wh: float,
    *,
    min_current_a: float,
    max_current_a: float,
    watts_per_amp: float,
) -> list[Slot]:
    """Fill the cheapest pieces (the earlier of equal prices) until the need is met."""
    remaining = needed_wh
    chosen: list[Slot] = []
    for start, end, _ in sorted(pieces, key=lambda piece: (piece[2], piece[0])):
        if remaining < MET_BELOW_WH:
            break
        hours = (end - start).total_seconds() / 3600
        if hours <= 0:
            continue
        at_max = max_current_a * watts_per_amp * hours
        if at_max <= remaining:
            chosen.append(Slot(start, end, max_current_a))
            remaining -= at_max
            continue
        current = _ceil_da(remaining / (watts_per_amp * hours))
        if current >= min_current_a:
            chosen.append(Slot(start, end, min(current, max_current_a)))
        else:  # at the minimum for the part of the slot that completes the need
            seconds = math.ceil(remaining / (min_current_a * watts_per_amp) * 3600)
            chosen.append(Slot(start, min(end, start + timedelta(seconds=seconds)), min_current_a))
        remaining = 0
    return sorted(chosen, key=lambda slot: slot.start)
