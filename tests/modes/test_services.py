"""The rules every charge-mode change passes (modes.services): what modesui's API answers with 400
and its pages show by the field."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from chargers.choices import SessionStatus
from chargers.models import ChargeSession
from modes import services
from modes.choices import ChargeMode, DayType, PlanStatus
from modes.models import ChargerMode, ChargingWindow, SessionPlan, SurplusSettings
from modes.services import WindowSpec
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _messages(error: ValidationError) -> str:
    return " ".join(str(m) for messages in error.message_dict.values() for m in messages)


def _start_session(world: World, user=None) -> ChargeSession:  # type: ignore[no-untyped-def]
    charger = world.charger_a1
    return ChargeSession.objects.create(
        charger=charger, connector=charger.connectors.first(), id_tag="T1", user=user,
        started_at=timezone.now(), meter_start_wh=0,
    )  # fmt: skip


def test_a_charger_has_now_until_an_owner_sets_another_default(world: World) -> None:
    assert services.charger_mode(world.charger_a1) == ChargeMode.NOW
    services.set_charger_mode(world.charger_a1, ChargeMode.SURPLUS, by=world.alice)
    assert services.charger_mode(world.charger_a1) == ChargeMode.SURPLUS
    assert ChargerMode.objects.get(charger=world.charger_a1).updated_by == world.alice
    with pytest.raises(ValidationError, match="Unknown mode"):
        services.set_charger_mode(world.charger_a1, "turbo")
    with pytest.raises(ValidationError, match="per session"):
        services.set_charger_mode(world.charger_a1, ChargeMode.DEPARTURE)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"departure_at": None, "energy_need_wh": 10_000}, "Give the departure time"),
        ({"departure_at": "past", "energy_need_wh": 10_000}, "in the past"),
        ({"departure_at": "soon", "energy_need_wh": 10_000}, "at least 5 minutes"),
        ({"departure_at": "far", "energy_need_wh": 10_000}, "within 7 days"),
        ({"energy_need_wh": 0}, "more than 0"),
        ({"energy_need_wh": -5}, "more than 0"),
        ({"energy_need_wh": 900_000}, "more than any car takes"),
        ({"energy_need_wh": float("nan")}, "number of Wh"),
        ({"energy_need_wh": True}, "number of Wh"),
        ({}, "either the energy"),
        ({"energy_need_wh": 5000, "target_soc_percent": 80}, "either the energy"),
        ({"target_soc_percent": 0}, "between 1 and 100"),
        ({"target_soc_percent": 120}, "between 1 and 100"),
    ],
)
def test_a_departure_plan_with_bad_input_is_refused_with_a_message(
    world: World, fields: dict, message: str
) -> None:
    now = timezone.now()
    when = {
        "past": now - timedelta(minutes=1),
        "soon": now + timedelta(minutes=2),
        "far": now + timedelta(days=8),
    }
    departure = fields.pop("departure_at", "ok")
    departure_at = None if departure is None else when.get(departure, now + timedelta(hours=8))
    with pytest.raises(ValidationError) as raised:
        services.set_session_plan(
            world.charger_a1, by=world.dora, departure_at=departure_at, now=now, **fields
        )
    assert message in _messages(raised.value)
    assert not SessionPlan.objects.exists()


def test_other_modes_take_no_departure(world: World) -> None:
    with pytest.raises(ValidationError, match="By departure mode only"):
        services.set_session_plan(
            world.charger_a1,
            by=world.dora,
            mode=ChargeMode.NOW,
            departure_at=timezone.now() + timedelta(hours=3),
        )


def test_a_plan_set_before_plugging_in_waits_for_the_next_session(world: World) -> None:
    departure = timezone.now() + timedelta(hours=9)
    plan = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=departure, energy_need_wh=20_000
    )
    assert plan.session is None and plan.status == PlanStatus.PENDING
    again = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=departure, energy_need_wh=25_000
    )
    assert SessionPlan.objects.get().pk == again.pk  # one waiting plan per charger: replaced
    assert services.current_plan(world.charger_a1) == again


def test_a_plan_set_during_a_session_belongs_to_it(world: World) -> None:
    session = _start_session(world, user=world.dora)
    plan = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=5),
        energy_need_wh=12_500.4,
    )  # fmt: skip
    assert plan.session == session and plan.energy_need_wh == 12_501
    assert services.current_plan(world.charger_a1) == plan
    ChargeSession.objects.filter(pk=session.pk).update(status=SessionStatus.COMPLETED)
    assert services.current_plan(world.charger_a1) is None


def test_a_driver_cannot_plan_or_clear_another_drivers_session(world: World) -> None:
    _start_session(world, user=world.dave)
    with pytest.raises(PermissionDenied):
        services.set_session_plan(
            world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=5),
            energy_need_wh=10_000,
        )  # fmt: skip
    plan = services.set_session_plan(  # the owner may
        world.charger_a1, by=world.alice, departure_at=timezone.now() + timedelta(hours=5),
        energy_need_wh=10_000,
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.clear_session_plan(plan, by=world.dora)
    services.clear_session_plan(plan, by=world.dave)  # the session's driver may
    assert not SessionPlan.objects.exists()


def test_a_target_charge_needs_a_charger_that_reports_it(world: World) -> None:
    _start_session(world, user=world.dora)
    with pytest.raises(ValidationError, match="does not report"):
        services.set_session_plan(
            world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=5),
            target_soc_percent=80,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ([(DayType.WEEKDAY, "22:00", "22:00")], "ends when it starts"),
        ([(DayType.WEEKDAY, "22:00", "06:00"), (DayType.WEEKDAY, "05:00", "08:00")], "overlap"),
        ([(DayType.WEEKDAY, "08:00", "12:00"), (DayType.WEEKDAY, "11:00", "13:00")], "overlap"),
        ([(DayType.WEEKEND, "00:00", "23:59"), (DayType.WEEKEND, "10:00", "11:00")], "overlap"),
        ([("holiday", "08:00", "12:00")], "unknown day type"),
    ],
)
def test_allowed_hours_that_overlap_or_are_empty_are_refused(
    world: World, windows: list, message: str
) -> None:
    specs = [
        WindowSpec(kind, time.fromisoformat(a), time.fromisoformat(b)) for kind, a, b in windows
    ]
    with pytest.raises(ValidationError) as raised:
        services.save_windows(world.site_a, specs)
    assert message in _messages(raised.value)
    assert not ChargingWindow.objects.exists()


def test_allowed_hours_are_replaced_as_a_set_and_a_charger_may_have_its_own(world: World) -> None:
    night = WindowSpec(DayType.WEEKDAY, time(22), time(6))
    services.save_windows(world.site_a, [night, WindowSpec(DayType.WEEKEND, time(0), time(23, 59))])
    services.save_windows(world.site_a, [night])
    services.save_windows(
        world.site_a, [WindowSpec(DayType.WEEKDAY, time(1), time(5))], charger=world.charger_a1
    )
    assert ChargingWindow.objects.filter(charger__isnull=True).count() == 1
    assert ChargingWindow.objects.filter(charger=world.charger_a1).count() == 1
    with pytest.raises(ValidationError, match="another installation"):
        services.save_windows(world.site_a, [night], charger=world.charger_b1)
    # weekday night 22-06: Monday 2026-12-07 12:00 Oslo waits until 22:00 Oslo (21:00 UTC)
    monday_noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert services.next_allowed(world.charger_a2, monday_noon) == datetime(
        2026, 12, 7, 21, 0, tzinfo=UTC
    )
    assert services.next_allowed(world.charger_a1, monday_noon) == datetime(
        2026, 12, 8, 0, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_after_minutes": -1}, "cannot be negative"),
        ({"stop_after_minutes": -3}, "cannot be negative"),
        ({"stop_after_minutes": 1000}, "At most 240"),
        ({"start_after_minutes": 2.5}, "whole number"),
    ],
)
def test_surplus_settings_with_bad_minutes_are_refused(
    world: World, fields: dict, message: str
) -> None:
    values = {"start_after_minutes": 5, "stop_after_minutes": 10, "one_phase_at_low_surplus": True}
    with pytest.raises(ValidationError, match=message):
        services.save_surplus_settings(world.site_a, **{**values, **fields})


def test_a_surplus_reading_applies_until_it_expires_and_keeps_the_settings(world: World) -> None:
    now = timezone.now()
    services.save_surplus_settings(
        world.site_a, start_after_minutes=3, stop_after_minutes=7, one_phase_at_low_surplus=True
    )
    row = services.report_surplus(world.site_a, [8, 7.5, 0], now=now)
    row = SurplusSettings.objects.get(pk=row.pk)
    assert row.start_after_minutes == 3 and row.live_surplus_a(now) == [8.0, 7.5, 0.0]
    assert row.live_surplus_a(now + timedelta(minutes=6)) == [0.0, 0.0, 0.0]
    for bad, message in [
        ([1, 2], "three currents"),
        ([1, -2, 3], "between 0"),
        ([1, "x", 3], "number of amperes"),
        ([1, float("inf"), 3], "number of amperes"),
    ]:
        with pytest.raises(ValidationError, match=message):
            services.report_surplus(world.site_a, bad, now=now)
    with pytest.raises(ValidationError, match="in the past"):
        services.report_surplus(world.site_a, [1, 1, 1], valid_until=now - timedelta(seconds=1))


def test_a_holiday_of_the_installation_counts_as_weekend_for_the_allowed_hours(
    world: World,
) -> None:
    from tariffs.models import Holiday

    services.save_windows(
        world.site_a,
        [
            WindowSpec(DayType.WEEKDAY, time(22), time(6)),
            WindowSpec(DayType.WEEKEND, time(10), time(16)),
        ],
    )
    monday_noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 12:00 in Oslo
    assert services.next_allowed(world.charger_a1, monday_noon) == datetime(
        2026, 12, 7, 21, 0, tzinfo=UTC
    )
    Holiday.objects.create(installation=world.site_a, date=datetime(2026, 12, 7).date(), name="X")
    assert services.next_allowed(world.charger_a1, monday_noon) == monday_noon  # weekend hours


def test_a_driver_cannot_replace_someone_elses_waiting_plan(world: World) -> None:
    departure = timezone.now() + timedelta(hours=9)
    dora = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=departure, energy_need_wh=20_000
    )
    with pytest.raises(PermissionDenied, match="Someone else has planned"):
        services.set_session_plan(
            world.charger_a1, by=world.dave, departure_at=departure, energy_need_wh=5_000
        )
    assert SessionPlan.objects.get() == dora  # kept
    owner = services.set_session_plan(
        world.charger_a1, by=world.alice, departure_at=departure, energy_need_wh=8_000
    )  # an owner may: they operate the charger
    assert SessionPlan.objects.get() == owner
