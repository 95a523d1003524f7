"""Charge modes as balancing inputs, through the live loop's service (balancing.service.balance):
the mode's cap and priority in the snapshot, the limits sent, the plan's status stored, the
surplus state kept between solves, and a fixed number of queries per installation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from balancing import service, snapshot
from balancing.models import BalancingTrigger
from chargers.models import Charger, ChargeSession
from chargers.services import register_charger
from commands.models import Command
from installations.models import Circuit, Installation
from modes import inputs, services
from modes.choices import ChargeMode, DayType, PlanStatus
from modes.models import SessionPlan, SurplusState
from modes.services import WindowSpec
from tests.balancing_loop.test_loop import _clean_redis, _limits_sent, _plug_in
from tests.conftest import World

pytestmark = pytest.mark.django_db
__all__ = ["_clean_redis"]


def _session(
    charger: Charger, *, user=None, energy_wh: int = 0, minutes_ago: int = 1
) -> ChargeSession:  # type: ignore[no-untyped-def]
    return ChargeSession.objects.create(
        charger=charger, connector=charger.connectors.first(), id_tag=f"T{charger.pk}", user=user,
        started_at=timezone.now() - timedelta(minutes=minutes_ago), meter_start_wh=0,
        energy_wh=energy_wh,
    )  # fmt: skip


def _entry(decision, charger: Charger) -> dict:  # type: ignore[no-untyped-def]
    return next(c for c in decision.scenario["chargers"] if c["id"] == charger.ocpp_identity)


def _balance(world: World):  # type: ignore[no-untyped-def]
    Charger.objects.filter(installation=world.site_a).update(limit_sent_at=None)
    return service.balance(world.site_a.pk, BalancingTrigger.MANUAL)


def _allowed_hours_exclude_now(world: World, charger: Charger | None = None) -> None:
    local = timezone.localtime(
        timezone.now(), timezone=__import__("zoneinfo").ZoneInfo(world.site_a.time_zone)
    )
    start = (local + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=4)).time().replace(second=0, microsecond=0)
    services.save_windows(
        world.site_a,
        [WindowSpec(kind, start, end) for kind in (DayType.WEEKDAY, DayType.WEEKEND)],
        charger=charger,
    )


def test_a_scheduled_car_waits_outside_the_allowed_hours_and_a_now_car_charges(
    world: World,
) -> None:
    _plug_in(world.charger_a1)
    _plug_in(world.charger_a2)
    services.set_charger_mode(world.charger_a1, ChargeMode.SCHEDULED)
    _allowed_hours_exclude_now(world)
    decision = _balance(world)
    assert _limits_sent() == {"HARBOUR-A1": 0.0, "HARBOUR-A2": 32.0}
    entry = _entry(decision, world.charger_a1)
    assert entry["mode"] == "scheduled" and entry["mode_cap"] == 0.0
    assert "waits until" in entry["mode_reason"]
    opens = services.next_allowed(world.charger_a1)
    assert opens is not None and opens > timezone.now()
    # within its hours it charges like any car
    services.save_windows(world.site_a, [])
    _balance(world)
    assert _limits_sent()["HARBOUR-A1"] == 31.5  # 63 A shared by the two


def test_a_departure_plan_caps_the_car_at_its_plan_and_stores_its_status(world: World) -> None:
    _plug_in(world.charger_a1)
    session = _session(world.charger_a1, user=world.dora)
    departure = timezone.now() + timedelta(hours=10)
    plan = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=departure, energy_need_wh=3_000
    )
    decision = _balance(world)
    plan.refresh_from_db()
    assert plan.session == session and plan.status == PlanStatus.ON_TRACK
    # one flat price: every hour alike, so the need is planned from now on, the earliest first
    # (up to the next hour at most 32 A, then what completes it)
    sent = _limits_sent()["HARBOUR-A1"]
    assert 6.0 <= sent <= 32.0 and plan.cap_a == sent
    assert plan.plan and plan.plan[0]["current_a"] == sent
    planned_wh = sum(
        slot["current_a"] * 690
        * (datetime.fromisoformat(slot["end"]) - datetime.fromisoformat(slot["start"])).total_seconds()
        / 3600
        for slot in plan.plan
    )  # fmt: skip
    assert 3_000 <= planned_wh < 3_100
    entry = _entry(decision, world.charger_a1)
    assert entry["mode"] == "departure" and entry["priority"] == 0
    # the need delivered: met, paused
    ChargeSession.objects.filter(pk=session.pk).update(energy_wh=3_000)
    _balance(world)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.MET and _limits_sent()["HARBOUR-A1"] == 0.0


def test_a_plan_behind_gets_priority_up_to_its_catch_up_current_only(world: World) -> None:
    for charger in (world.charger_a1, world.charger_a2):
        Charger.objects.filter(pk=charger.pk).update(circuit=world.main_a)
        _plug_in(charger)
    Charger.objects.filter(pk=world.charger_a1.pk).update(max_current_a=16)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[30, 30, 30])
    _session(world.charger_a1, user=world.dora)
    # 2 h to go, 1.9 h at 16 A needed (at 3 x 230 V): it no longer fits in 2 h less the
    # 30 min reserve: behind; catch-up = 1.9/2 of 16 A = 15.2 A (rounded up to 0.1 A)
    services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=2),
        energy_need_wh=16 * 690 * 1.9,
    )  # fmt: skip
    decision = _balance(world)
    entry = _entry(decision, world.charger_a1)
    assert entry["priority"] == inputs.PRIORITY_BOOST and 15.2 <= entry["mode_cap"] <= 15.3
    sent = _limits_sent()
    # the raised car gets its catch-up current; the Now car keeps the rest of the 30 A
    assert sent == {"HARBOUR-A1": entry["mode_cap"], "HARBOUR-A2": 30 - entry["mode_cap"]}
    assert SessionPlan.objects.get().status == PlanStatus.BEHIND


def test_a_plan_set_before_the_car_arrives_is_taken_by_the_drivers_session(world: World) -> None:
    plan = services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=8),
        energy_need_wh=5_000,
    )  # fmt: skip
    _plug_in(world.charger_a1)
    other = _session(world.charger_a1, user=world.dave, minutes_ago=0)
    _balance(world)
    plan.refresh_from_db()
    assert plan.session is None  # Dora's plan is not Dave's
    other.delete()
    mine = _session(world.charger_a1, user=world.dora, minutes_ago=0)
    _balance(world)
    plan.refresh_from_db()
    assert plan.session == mine and plan.status == PlanStatus.ON_TRACK


def test_surplus_cars_start_after_n_minutes_and_the_state_survives_a_restart(world: World) -> None:
    _plug_in(world.charger_a1)
    _session(world.charger_a1)
    services.set_charger_mode(world.charger_a1, ChargeMode.SURPLUS)
    services.save_surplus_settings(
        world.site_a, start_after_minutes=5, stop_after_minutes=10, one_phase_at_low_surplus=False
    )
    services.report_surplus(world.site_a, [9, 9, 9])
    decision = _balance(world)
    assert _limits_sent() == {"HARBOUR-A1": 0.0}
    assert "starts after" in _entry(decision, world.charger_a1)["mode_reason"]
    state = SurplusState.objects.get(charger=world.charger_a1)
    assert state.enough_since is not None and not state.active
    # five minutes later (the stored state is all that remembers: a new worker reads it)
    SurplusState.objects.filter(pk=state.pk).update(
        enough_since=state.enough_since - timedelta(minutes=5)
    )
    _balance(world)
    assert _limits_sent() == {"HARBOUR-A1": 9.0}
    assert SurplusState.objects.get(pk=state.pk).active
    # the reading expires: no surplus; it keeps its minimum for M minutes, then stops
    services.report_surplus(world.site_a, [0, 0, 0])
    _balance(world)
    assert _limits_sent() == {"HARBOUR-A1": 6.0}
    short = SurplusState.objects.get(pk=state.pk).short_since
    SurplusState.objects.filter(pk=state.pk).update(short_since=short - timedelta(minutes=10))
    _balance(world)
    assert _limits_sent() == {"HARBOUR-A1": 0.0}


def test_a_surplus_car_charges_on_one_phase_at_low_surplus_where_the_charger_can_switch(
    world: World,
) -> None:
    Charger.objects.filter(pk=world.charger_a1.pk).update(can_switch_phases=True)
    _plug_in(world.charger_a1)
    _session(world.charger_a1)
    services.set_charger_mode(world.charger_a1, ChargeMode.SURPLUS)
    services.save_surplus_settings(
        world.site_a, start_after_minutes=0, stop_after_minutes=10, one_phase_at_low_surplus=True
    )
    services.report_surplus(world.site_a, [7, 1, 1])
    decision = _balance(world)
    entry = _entry(decision, world.charger_a1)
    # Told to switch, but counted on its 3 phases until it is on one for sure (_fold_one_phase).
    assert entry["phases"] == 3 and entry["switch_to_one_phase"] and entry["mode_cap"] == 7.0
    allocation = next(a for a in decision.result["allocations"] if a["id"] == "HARBOUR-A1")
    assert allocation["current"] == 7.0
    sent = Command.objects.filter(
        action="SetChargingProfile",
        payload__csChargingProfiles__chargingProfileId=service.BALANCING_PROFILE_ID,
    ).get()
    period = sent.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]
    assert (period["limit"], period["numberPhases"]) == (7.0, 1)
    assert Charger.objects.get(pk=world.charger_a1.pk).allocated_phases == 1


def _queries_of_a_solve(world: World) -> int:
    installation = Installation.objects.get(pk=world.site_a.pk)
    with CaptureQueriesContext(connection) as captured:
        snapshot.build_scenario(installation, record=True)
    return len(captured.captured_queries)


def test_reading_the_snapshot_for_the_load_tab_writes_nothing(world: World) -> None:
    services.set_session_plan(
        world.charger_a1, by=world.dora, departure_at=timezone.now() + timedelta(hours=8),
        energy_need_wh=5_000,
    )  # fmt: skip
    _plug_in(world.charger_a1)
    _session(world.charger_a1, user=world.dora, minutes_ago=0)
    _plug_in(world.charger_a2)
    services.set_charger_mode(world.charger_a2, ChargeMode.SURPLUS)
    scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))
    modes = {entry["id"]: entry.get("mode") for entry in scenario["chargers"]}
    assert modes == {"HARBOUR-A1": "departure", "HARBOUR-A2": "surplus"}
    plan = SessionPlan.objects.get()
    assert plan.session is None and plan.status == PlanStatus.PENDING
    assert not SurplusState.objects.exists()


def test_the_modes_cost_the_same_queries_for_three_chargers_as_for_twelve(world: World) -> None:
    _allowed_hours_exclude_now(world)
    Installation.objects.filter(pk=world.site_a.pk).update(failsafe_current_a=0)
    services.save_surplus_settings(
        world.site_a, start_after_minutes=5, stop_after_minutes=10, one_phase_at_low_surplus=False
    )

    def add(n: int) -> None:
        for index in range(n):
            charger, _ = register_charger(
                circuit=Circuit.objects.get(pk=world.main_a.pk), name=f"Q{Charger.objects.count()}",
                ocpp_identity=f"Q-{Charger.objects.count()}", min_current_a=0.5,
            )  # fmt: skip
            _plug_in(charger)
            session = _session(charger)
            mode = [ChargeMode.SCHEDULED, ChargeMode.SURPLUS, ChargeMode.DEPARTURE][index % 3]
            if mode == ChargeMode.DEPARTURE:
                SessionPlan.objects.create(
                    charger=charger, session=session, departure_at=timezone.now() + timedelta(hours=5),
                    energy_need_wh=4000,
                )  # fmt: skip
            else:
                services.set_charger_mode(charger, mode)

    add(3)
    _queries_of_a_solve(world)  # the first solve creates the surplus states
    few = _queries_of_a_solve(world)
    add(9)
    _queries_of_a_solve(world)
    assert _queries_of_a_solve(world) == few
