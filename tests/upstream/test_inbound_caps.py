"""Upstream charging profiles as caps, the pure part: OCPP 1.6 stacking, schedules, units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from upstream.caps import Profile, charger_cap, limit_now

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def profile(
    limit: float | list[tuple[int, float]],
    *,
    purpose: str = "TxDefaultProfile",
    stack_level: int = 0,
    connector_id: int = 0,
    kind: str = "Absolute",
    start: datetime | None = NOW - timedelta(minutes=10),
    unit: str = "A",
    session_id: int | None = None,
    **extra: Any,
) -> Profile:
    periods = limit if isinstance(limit, list) else [(0, limit)]
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in periods],
        **extra.pop("schedule", {}),
    }
    if start is not None:
        schedule["startSchedule"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Profile(
        connector_id=connector_id,
        profile_id=extra.pop("profile_id", 1),
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        recurrency=extra.pop("recurrency", ""),
        schedule=schedule,
        valid_from=extra.pop("valid_from", None),
        valid_to=extra.pop("valid_to", None),
        created_at=NOW - timedelta(hours=1),
        session_id=session_id,
    )


def cap(profiles: list[Profile], **options: Any) -> tuple[float | None, datetime | None]:
    options.setdefault("voltage_v", 230)
    options.setdefault("charger_phases", 3)
    options.setdefault("connectors_in_use", [1])
    options.setdefault("transactions", {})
    return charger_cap(profiles, options.pop("now", NOW), **options)


def test_the_period_in_force_gives_the_limit_and_the_next_period_the_next_change() -> None:
    schedule = profile([(0, 16), (1800, 8)])  # began 10 minutes ago: 16 A, 8 A in 20 minutes
    limit = limit_now(schedule, NOW, voltage_v=230, charger_phases=3)
    assert limit is not None and limit.current_a == 16
    assert limit.changes_at == NOW + timedelta(minutes=20)
    later = limit_now(schedule, NOW + timedelta(minutes=25), voltage_v=230, charger_phases=3)
    assert later is not None and later.current_a == 8


def test_watts_become_amperes_with_the_voltage_and_the_phases() -> None:
    three = profile(11040, unit="W")
    assert cap([three])[0] == 16.0  # 11,040 W / (230 V x 3)
    one = profile(3680, unit="W", schedule={})
    one.schedule["chargingSchedulePeriod"][0]["numberPhases"] = 1
    assert cap([one])[0] == 16.0
    assert cap([three], charger_phases=1)[0] == 48.0  # a 1-phase charger: all on one phase


def test_highest_stack_level_wins_and_a_lapsed_one_gives_way_to_the_one_below() -> None:
    low = profile(20, stack_level=0, profile_id=1)
    high = profile(10, stack_level=2, profile_id=2, schedule={"duration": 3600})
    assert cap([low, high])[0] == 10
    assert cap([low, high], now=NOW + timedelta(hours=1))[0] == 20  # past its duration
    ending = profile(10, stack_level=2, profile_id=3, valid_to=NOW + timedelta(minutes=5))
    assert cap([low, ending]) == (10, NOW + timedelta(minutes=5))


def test_a_tx_profile_replaces_the_default_for_its_own_transaction_only() -> None:
    default = profile(20, connector_id=0)
    tx = profile(32, purpose="TxProfile", connector_id=1, session_id=7)
    running = {1: (7, NOW - timedelta(minutes=30))}
    assert cap([default, tx], transactions=running)[0] == 32  # TxProfile over TxDefaultProfile
    assert cap([default, tx], transactions={1: (8, NOW)})[0] == 20  # another transaction
    assert cap([default, tx])[0] == 20  # no transaction: the profile has lapsed


def test_charge_point_max_caps_the_sum_and_a_connector_default_beats_connector_0() -> None:
    zero = profile(20, connector_id=0, profile_id=1)
    own = profile(14, connector_id=1, profile_id=2)
    maximum = profile(12, purpose="ChargePointMaxProfile", profile_id=3)
    assert cap([zero, own])[0] == 14
    assert cap([zero, maximum])[0] == 12
    assert cap([zero], connectors_in_use=[2])[0] == 20


def test_relative_schedules_start_with_the_transaction_and_recurring_ones_repeat() -> None:
    relative = profile(
        [(0, 32), (3600, 6)], kind="Relative", start=None, purpose="TxProfile",
        connector_id=1, session_id=5,
    )  # fmt: skip
    started = {1: (5, NOW - timedelta(minutes=90))}
    assert cap([relative], transactions=started)[0] == 6
    daily = profile(
        [(0, 6), (8 * 3600, 16)], kind="Recurring", recurrency="Daily",
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    assert cap([daily])[0] == 16  # 12:00 is after 08:00
    assert cap([daily], now=NOW.replace(hour=7))[0] == 6
    assert cap([daily], now=NOW.replace(hour=7))[1] == NOW.replace(hour=8)


def test_no_profile_in_force_is_no_cap() -> None:
    future = profile(6, start=NOW + timedelta(hours=1))
    assert cap([future]) == (None, NOW + timedelta(hours=1))
    assert cap([]) == (None, None)
