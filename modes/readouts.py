"""What the charge-mode pages and the API show, read-only: a plan in words and slots, when a
waiting car may start, which cars wait for the surplus.

Nothing here writes or validates (``modes.services`` does); the callers reach chargers and
installations through ``restrict`` and pass them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from modes import services
from modes.choices import ChargeMode, PlanStatus
from modes.models import ChargerMode, SessionPlan, SurplusState

if TYPE_CHECKING:
    from installations.models import Installation


@dataclass(frozen=True)
class SlotRow:
    """One planned slot, ready to draw: ``share`` is the current as a part of the charger's
    maximum (0-100, the bar's height)."""

    start: datetime
    end: datetime
    current_a: float
    energy_wh: float
    price_per_kwh: float | None
    share: int
    currency: str = ""


@dataclass(frozen=True)
class PlanSummary:
    """A plan in words: ``tone`` (ok, warn, bad, wait) colours the badge; ``expected_wh``: the
    energy the session should reach by the departure as planned (delivered + slots)."""

    plan: SessionPlan
    headline: str
    detail: str
    tone: str
    slots: list[SlotRow]
    expected_wh: float | None

    @property
    def need_kwh(self) -> float | None:
        """The energy need as the driver gave it, in kWh (None: a target SoC)."""
        need = self.plan.energy_need_wh
        return need / 1000 if need else None


def _slot_energy_wh(current_a: float, seconds: float, voltage_v: float, phases: int) -> float:
    return current_a * voltage_v * phases * seconds / 3600


def _prices(charger: Charger, start: datetime, end: datetime) -> list[Any]:
    """The installation's price slots over the plan (``tariffs``; none without that app)."""
    try:
        from tariffs.prices import price_slots
    except ImportError:  # pragma: no cover - the tariffs app is not installed
        return []
    return price_slots(charger.installation, start, end)


def _price_at(prices: list[Any], moment: datetime) -> tuple[float | None, str]:
    for slot in prices:
        if slot.start <= moment < slot.end:
            price = slot.price_per_kwh
            return (float(price) if price is not None else None), getattr(slot, "currency", "")
    return None, ""


def slot_rows(plan: SessionPlan, charger: Charger) -> list[SlotRow]:
    """The plan's slots (``SessionPlan.plan``) with their energy and their price where the
    installation has one (a slot's own ``price_per_kwh`` first). One query for the prices."""
    voltage_v = float(charger.installation.voltage_v)
    maximum = max(float(charger.max_current_a), 0.1)
    parsed = []
    for slot in plan.plan or []:
        start = parse_datetime(str(slot.get("start", "")))
        end = parse_datetime(str(slot.get("end", "")))
        if start is not None and end is not None and end > start:
            parsed.append((start, end, slot))
    prices = _prices(charger, parsed[0][0], parsed[-1][1]) if parsed else []
    rows = []
    for start, end, slot in parsed:
        current = float(slot.get("current_a") or 0.0)
        price, currency = _price_at(prices, start)
        if slot.get("price_per_kwh") is not None:
            price = float(slot["price_per_kwh"])
        rows.append(
            SlotRow(
                start=start,
                end=end,
                current_a=current,
                energy_wh=_slot_energy_wh(
                    current, (end - start).total_seconds(), voltage_v, charger.phases
                ),
                price_per_kwh=price,
                share=max(4, min(100, round(current / maximum * 100))),
                currency=currency,
            )
        )
    return rows


def summarize(plan: SessionPlan, charger: Charger) -> PlanSummary:
    """The headline a driver reads about ``plan`` ("On track", "Cannot be met: you will get
    about X kWh", ...)."""
    slots = slot_rows(plan, charger)
    planned_wh = sum(slot.energy_wh for slot in slots)
    delivered = max(0, plan.delivered_wh - getattr(plan, "baseline_energy_wh", 0))
    expected = delivered + planned_wh if plan.planned_at else None
    if plan.mode != ChargeMode.DEPARTURE:
        return PlanSummary(plan, plan.get_mode_display(), "For this session.", "ok", [], None)
    status = plan.status
    if status == PlanStatus.PENDING:
        detail = (
            "Planned as soon as your car is plugged in."
            if plan.session_id is None
            else "Planned at the next balancing round (within a minute)."
        )
        return PlanSummary(plan, "Waiting for the session", detail, "wait", slots, None)
    if status == PlanStatus.ON_TRACK:
        return PlanSummary(plan, "On track", _need_text(plan), "ok", slots, expected)
    if status == PlanStatus.BEHIND:
        return PlanSummary(
            plan, "Behind: catching up", "Charging is raised to meet it.", "warn", slots, expected
        )
    if status == PlanStatus.CANNOT_BE_MET:
        kwh = (expected or 0) / 1000
        return PlanSummary(
            plan,
            f"Cannot be met: you will get about {kwh:.1f} kWh",
            "Even the charger's most current until the departure is not enough.",
            "bad",
            slots,
            expected,
        )
    if status == PlanStatus.MET:
        return PlanSummary(plan, "Met", "The car has what it needed.", "ok", slots, expected)
    return PlanSummary(
        plan, "Missed", "The departure passed before the need was met.", "bad", slots, expected
    )


def _need_text(plan: SessionPlan) -> str:
    if plan.needed_wh is None:
        return ""
    return f"{plan.needed_wh / 1000:.1f} kWh still to charge, in the cheapest hours first."


def effective_mode(charger: Charger, plan: SessionPlan | None) -> str:
    """The mode the car on ``charger`` charges in: its plan's, else the charger's default."""
    return plan.mode if plan is not None else services.charger_mode(charger)


def waits_until(
    charger: Charger, plan: SessionPlan | None, now: datetime | None = None
) -> datetime | None:
    """In Scheduled mode outside the allowed hours: when the car may start (else None)."""
    if effective_mode(charger, plan) != ChargeMode.SCHEDULED:
        return None
    now = now or timezone.now()
    opens = services.next_allowed(charger, now)
    return opens if opens is not None and opens > now else None


def never_opens(charger: Charger, plan: SessionPlan | None) -> bool:
    """Scheduled, and no window opens within two weeks."""
    return (
        effective_mode(charger, plan) == ChargeMode.SCHEDULED
        and services.next_allowed(charger) is None
    )


@dataclass(frozen=True)
class SurplusCar:
    """A session in surplus mode: charging from the surplus, or waiting for it."""

    charger: Charger
    session: ChargeSession
    active: bool
    since: datetime | None


def surplus_cars(installation: Installation, chargers: Any) -> list[SurplusCar]:
    """Running sessions in surplus mode on ``chargers`` (restricted by the caller), waiting
    ones first."""
    by_pk = {charger.pk: charger for charger in chargers.filter(installation=installation)}
    defaults = dict(
        ChargerMode.objects.filter(charger_id__in=by_pk).values_list("charger_id", "mode")
    )
    sessions = ChargeSession.objects.filter(
        charger_id__in=by_pk, status=SessionStatus.ACTIVE
    ).select_related("plan")
    states = {row.charger_id: row for row in SurplusState.objects.filter(charger_id__in=by_pk)}
    cars = []
    for session in sessions:
        plan = getattr(session, "plan", None)
        mode = plan.mode if plan is not None else defaults.get(session.charger_id, ChargeMode.NOW)
        if mode != ChargeMode.SURPLUS:
            continue
        state = states.get(session.charger_id)
        active = bool(state and state.session_id == session.pk and state.active)
        since = state.enough_since if state and not active else None
        cars.append(SurplusCar(by_pk[session.charger_id], session, active, since))
    return sorted(cars, key=lambda car: (car.active, car.charger.name))
