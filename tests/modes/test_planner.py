"""Departure plans (modes.planner): cheapest hours first, behind / cannot be met / met / missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from modes.choices import PlanStatus
from modes.planner import PriceSlot, make_plan

NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
CAR = {"min_current_a": 6.0, "max_current_a": 16.0, "phases": 3, "voltage_v": 230.0}
KW_AT_16A = 16 * 230 * 3 / 1000  # 11.04 kW


def _hourly(prices: list[float]) -> list[PriceSlot]:
    return [
        PriceSlot(NOW + timedelta(hours=i), NOW + timedelta(hours=i + 1), price)
        for i, price in enumerate(prices)
    ]


def test_the_cheapest_hours_are_filled_first_and_the_car_waits_until_then() -> None:
    # 18-19 0.40, 19-20 0.30, 20-21 0.10, 21-22 0.10, 22-... 0.20; needs 2 hours at 16 A
    prices = _hourly([0.40, 0.30, 0.10, 0.10, 0.20, 0.20, 0.20, 0.20])
    plan = make_plan(NOW, NOW + timedelta(hours=8), 2 * KW_AT_16A * 1000, prices=prices, **CAR)
    assert plan.status == PlanStatus.ON_TRACK and not plan.boost
    assert plan.cap_a == 0.0  # now is expensive: it waits
    assert [(s.start.hour, s.end.hour, s.current_a) for s in plan.slots] == [
        (20, 21, 16.0),
        (21, 22, 16.0),
    ]
    later = make_plan(
        NOW + timedelta(hours=2, minutes=5),
        NOW + timedelta(hours=8),
        2 * KW_AT_16A * 1000,
        prices=prices,
        **CAR,
    )
    assert later.cap_a == 16.0  # in the cheap hour now


def test_the_last_slot_gets_just_what_completes_the_need() -> None:
    plan = make_plan(NOW, NOW + timedelta(hours=8), 1.5 * KW_AT_16A * 1000, **CAR)
    assert [s.current_a for s in plan.slots] == [16.0, 8.0]  # equal prices: the earliest first
    assert abs(plan.energy_wh(230, 3) - 1.5 * KW_AT_16A * 1000) < 50
    small = make_plan(NOW, NOW + timedelta(hours=8), 1000, **CAR)
    (slot,) = small.slots  # below the minimum over the hour: at the minimum for part of it
    assert slot.current_a == 6.0 and slot.end - slot.start < timedelta(hours=1)
    assert small.energy_wh(230, 3) >= 1000


def test_behind_raises_priority_but_only_up_to_the_catch_up_current() -> None:
    # 4 h to the departure, 3.8 h at 16 A needed: it no longer fits in the window (4 h - 30 min)
    need = 3.8 * KW_AT_16A * 1000
    plan = make_plan(NOW, NOW + timedelta(hours=4), need, **CAR)
    assert plan.status == PlanStatus.BEHIND and plan.boost
    assert plan.cap_a == 15.2  # 3.8/4 of 16 A, rounded up to 0.1 A
    assert plan.energy_wh(230, 3) >= need


def test_a_need_beyond_full_current_to_the_departure_cannot_be_met() -> None:
    plan = make_plan(NOW, NOW + timedelta(hours=2), 3 * KW_AT_16A * 1000, **CAR)
    assert plan.status == PlanStatus.CANNOT_BE_MET and plan.boost and plan.cap_a == 16.0
    assert "cannot be met" in plan.reason


def test_met_pauses_and_missed_lets_the_car_charge_as_now() -> None:
    met = make_plan(NOW, NOW + timedelta(hours=2), 0, **CAR)
    assert met.status == PlanStatus.MET and met.cap_a == 0.0
    missed = make_plan(NOW, NOW - timedelta(minutes=1), 5000, **CAR)
    assert missed.status == PlanStatus.MISSED and missed.cap_a is None and not missed.boost


def test_a_price_gap_counts_as_the_dearest_known_price() -> None:
    prices = [PriceSlot(NOW + timedelta(hours=2), NOW + timedelta(hours=3), 0.10)]
    plan = make_plan(NOW, NOW + timedelta(hours=8), KW_AT_16A * 1000, prices=prices, **CAR)
    assert [(s.start.hour, s.current_a) for s in plan.slots] == [(20, 16.0)]


def test_a_price_in_another_currency_is_never_compared_as_a_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from modes import inputs

    start = datetime(2026, 12, 4, 12, tzinfo=UTC)
    hour = timedelta(hours=1)
    slots = [
        SimpleNamespace(
            start=start, end=start + hour, price_per_kwh=Decimal("2.5"), currency="NOK"
        ),
        SimpleNamespace(
            start=start + hour, end=start + 2 * hour, price_per_kwh=Decimal("0.2"), currency="EUR"
        ),
    ]
    monkeypatch.setattr(inputs, "price_slots", lambda *_: slots)
    got = inputs._price_slots(SimpleNamespace(currency="NOK"), start, start + 2 * hour)  # type: ignore[arg-type]
    assert [slot.price_per_kwh for slot in got] == [Decimal("2.5"), None]
