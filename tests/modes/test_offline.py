"""A plan survives a lost connection (modes.offline; docs/balancing.md): the departure plan's
TxProfile goes with every limit, never above that limit while it is valid nor above the failsafe
after it, and a simulated charger cut off from Fusebox follows the plan's hours by itself."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from balancing import service
from balancing.models import BalancingTrigger
from chargers.models import Charger, ChargeSession
from chargers.services import register_charger
from commands.models import Command
from installations.choices import AuthorizationMode
from installations.services import create_installation
from modes import inputs, offline, planner, services
from modes.choices import PlanStatus
from modes.models import SessionPlan
from ocpp_bridge.management.commands.simulate import specs_from_database
from ocpp_bridge.simulator.car import Car, CarModel
from ocpp_bridge.simulator.fleet import Fleet
from ocpp_bridge.simulator.settings import SimSettings
from portal.redis import get_redis
from tests.balancing_loop.test_loop import _clean_redis, _plug_in
from tests.conftest import World
from tests.ocpp.conftest import LoopThread, eventually, start_bridge, stop_bridge

__all__ = ["_clean_redis"]
T0 = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_profile_is_the_lower_of_the_envelope_and_the_plan() -> None:
    plan = [(_at(60), _at(120), 16.0), (_at(180), _at(200), 10.0)]
    steps = offline.periods(
        T0, limit_a=12.0, limit_until=_at(10), failsafe_a=6.0, plan=plan, departure=_at(240)
    )
    assert steps == [
        (T0, 0.0),  # not planned now: 0 A even with a 12 A limit
        (_at(60), 6.0),  # planned at 16 A, after the limit's validity: the failsafe
        (_at(120), 0.0),
        (_at(180), 6.0),
        (_at(200), 0.0),
        (_at(240), 6.0),  # after the departure the plan restricts nothing
    ]
    now_planned = offline.periods(
        T0, limit_a=12.0, limit_until=_at(10), failsafe_a=6.0,
        plan=[(T0, _at(30), 16.0)], departure=_at(60),
    )  # fmt: skip
    assert now_planned == [(T0, 12.0), (_at(10), 6.0), (_at(30), 0.0), (_at(60), 6.0)]
    met = offline.periods(
        T0, limit_a=0.0, limit_until=_at(10), failsafe_a=6.0, plan=[], departure=_at(60), met=True
    )
    assert met == [(T0, 0.0)]
    missed = offline.periods(
        T0, limit_a=9.0, limit_until=_at(10), failsafe_a=6.0, plan=None, departure=_at(-5)
    )
    assert missed == [(T0, 9.0), (_at(10), 6.0)]  # what the default profiles would give


def test_a_long_plan_is_folded_into_the_periods_a_charger_keeps() -> None:
    plan = [(_at(30 * n), _at(30 * n + 15), 16.0) for n in range(40)]
    steps = offline.periods(
        T0, limit_a=16.0, limit_until=_at(10), failsafe_a=6.0, plan=plan, departure=_at(1300)
    )
    assert len(steps) == offline.MAX_PERIODS
    assert steps[-1][1] == 0.0  # the tail at the lowest limit it holds: never above the plan
    payload = offline.tx_profile(steps, now=T0, connector_id=2, transaction_id=77, phases=3)
    profile = payload["csChargingProfiles"]
    assert payload["connectorId"] == 2 and profile["transactionId"] == 77
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingProfileId"] == offline.PLAN_PROFILE_ID
    periods = profile["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods[0]["startPeriod"] == 0 and periods[1]["startPeriod"] == 60 + 10 * 60


@pytest.mark.django_db
def test_every_limit_of_a_planned_session_carries_its_tx_profile(world: World) -> None:
    _plug_in(world.charger_a1)
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.first(), id_tag="T",
        started_at=timezone.now(), meter_start_wh=0,
    )  # fmt: skip
    services.set_session_plan(
        world.charger_a1, by=world.alice, departure_at=timezone.now() + timedelta(hours=6),
        energy_need_wh=3_000,
    )  # fmt: skip
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    sent = list(Command.objects.filter(charger=world.charger_a1, action="SetChargingProfile"))
    tx = [
        c for c in sent if c.payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"
    ]
    (command,) = tx
    default = next(c for c in sent if c.payload["csChargingProfiles"]["chargingProfileId"] == 1001)
    limit = default.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]
    profile = command.payload["csChargingProfiles"]
    assert profile["transactionId"] == session.pk and command.payload["connectorId"] == 1
    periods = profile["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods[0]["limit"] == limit["limit"]  # online: exactly the balancing limit
    failsafe = world.site_a.failsafe_current_a
    assert all(p["limit"] <= failsafe for p in periods[1:])
    # the plan goes another way (Now): its profile is cleared, so the default limits apply again
    services.set_session_plan(world.charger_a1, by=world.alice, mode="now")
    assert Command.objects.filter(
        charger=world.charger_a1, action="ClearChargingProfile", payload={"id": 1003}
    ).exists()
    # That clear may fail (refused, lost): a stale TxProfile would then override every lower
    # limit until it expires. So the session's later limits still carry one, the envelope alone.
    session.refresh_from_db()
    assert session.plan_profile_sent
    now = timezone.now()
    (envelope,) = offline.plan_profiles(
        [(world.charger_a1.pk, 7.0, 3)], failsafe_a=failsafe, limit_until=now + timedelta(minutes=5),
        now=now,
    ).values()  # fmt: skip
    schedule = envelope["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    assert envelope["csChargingProfiles"]["transactionId"] == session.pk
    assert [p["limit"] for p in schedule] == [7.0, failsafe]  # the new, lower limit, then failsafe
    # a session that never had a plan gets none
    ChargeSession.objects.filter(pk=session.pk).update(plan_profile_sent=False)
    SessionPlan.objects.filter(session=session).delete()
    assert (
        offline.plan_profiles(
            [(world.charger_a1.pk, 7.0, 3)], failsafe_a=failsafe, limit_until=now, now=now
        )
        == {}
    )


PASSWORD = "offline-plan"
CAR = CarModel("Estate 3x16A", 80_000, 3, 16)


@pytest.mark.django_db(transaction=True)
def test_a_charger_that_loses_its_connection_follows_the_plan_by_itself(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Dear now, cheap from 20 s to 60 s: the plan waits, then charges. The bridge goes away:
    after its limit expires (5 s) the charger does not fall back to its failsafe current at
    once, as it would by its default profiles; it waits for the cheap slot and then charges at
    the failsafe current (the most it may draw offline)."""
    settings.BALANCING_LIMIT_TTL_SECONDS = 5
    owner = User.objects.create_user(email="off@example.com", password="x", name="Off Owner")
    site = create_installation(
        owner, name="Offline plans", main_fuse_a=63, authorization_mode=AuthorizationMode.OPEN
    )
    site.failsafe_current_a = 8
    site.save()
    charger, _ = register_charger(
        circuit=site.main_fuse, name="P1", ocpp_identity="PLAN-1", max_current_a=16
    )
    charger.set_ocpp_password(PASSWORD)
    charger.save(update_fields=["ocpp_password_hash"])
    start = timezone.now()
    prices = [
        planner.PriceSlot(start - timedelta(minutes=1), start + timedelta(seconds=20), 1.0),
        planner.PriceSlot(start + timedelta(seconds=20), start + timedelta(seconds=60), 0.1),
        planner.PriceSlot(start + timedelta(seconds=60), start + timedelta(hours=9), 1.0),
    ]
    monkeypatch.setattr(inputs, "_price_slots", lambda *_: prices)
    services.set_session_plan(
        charger, by=owner, departure_at=start + timedelta(hours=8), energy_need_wh=100
    )
    get_redis().delete("celery")

    bridge = start_bridge()
    sim_loop = LoopThread("offline-plan")
    sim_settings = SimSettings(
        url=f"ws://127.0.0.1:{bridge.bridge.port}/ocpp", speed=1, meter_interval_s=1,
        ws_ping_interval_s=0, cars=False, initial_occupancy=0, tick_s=0.2,
        reconnect_s=(0.5, 1.0), response_timeout_s=5, seed=5,
    )  # fmt: skip
    fleet = Fleet(specs_from_database(PASSWORD, prefix="PLAN-"), sim_settings)
    running = asyncio.run_coroutine_threadsafe(
        fleet.run(ramp_s=0.1, handle_signals=False), sim_loop.loop
    )
    (simulated,) = fleet.chargers
    connector = simulated.station.connectors[1]
    bridge_stopped = False
    try:
        eventually(lambda: Charger.objects.filter(pk=charger.pk, is_online=True).exists(), 20)

        def plug() -> None:
            connector.car = Car(CAR, soc=0.2, target_soc=1.0, id_tag="TAG-PLAN")
            connector.leave_at = None
            connector.swipe_at = time.monotonic()
            simulated.poke()

        sim_loop.loop.call_soon_threadsafe(plug)
        eventually(lambda: ChargeSession.objects.filter(charger=charger).exists(), 20)
        service.balance(site.pk, BalancingTrigger.MANUAL)
        plan = SessionPlan.objects.get(charger=charger)
        assert plan.status == PlanStatus.ON_TRACK and plan.cap_a == 0.0
        eventually(
            lambda: any(p.profile_id == offline.PLAN_PROFILE_ID for p in simulated.station.profiles.profiles),
            10,
        )  # fmt: skip
        stop_bridge(bridge)  # the connection is lost; nobody renews the limit
        bridge_stopped = True
        time.sleep(max(0.0, (start + timedelta(seconds=12) - timezone.now()).total_seconds()))
        # the limit (5 s) has expired: by its default profiles it would draw 8 A now
        assert connector.car.current_a == 0.0
        time.sleep(max(0.0, (start + timedelta(seconds=26) - timezone.now()).total_seconds()))
        # the cheap slot: it charges, at no more than the failsafe current
        assert 7.0 <= connector.car.current_a <= 8.0
    finally:
        sim_loop.loop.call_soon_threadsafe(fleet.request_stop, 1)
        try:
            running.result(timeout=60)
        finally:
            sim_loop.close()
            if not bridge_stopped:
                stop_bridge(bridge)
