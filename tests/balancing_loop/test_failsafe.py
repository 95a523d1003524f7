"""Failsafe: the fuses must carry every charger at its failsafe current, every charger is told that
current, and a balancing limit expires so a charger cut off from us falls back to it.

Tenant A's tree: main fuse 63 A, with Row A (32 A) below it; A1 (3-phase) on Row A, A2 (3-phase)
on the main fuse.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from balancing import service, snapshot
from balancing.models import BalancingTrigger
from chargers.models import Charger
from chargers.services import register_charger
from commands.models import Command
from installations.failsafe import (
    ChargerNode,
    FuseNode,
    largest_safe_failsafe,
    overloads,
    worst_case_loads,
)
from installations.models import Installation
from tests.balancing_loop.test_loop import _limits_sent, _plug_in
from tests.conftest import World, api_as

pytestmark = pytest.mark.django_db


# --- the arithmetic ------------------------------------------------------------------------------

MAIN = FuseNode(1, None, "Main", 40)
ROW = FuseNode(2, 1, "Row", 16)


def test_every_charger_counts_on_its_own_phases_up_to_its_fuse_and_above() -> None:
    chargers = [
        ChargerNode(1, fuse_id=2, phases=3, rotation="L1L2L3", max_current_a=32),
        ChargerNode(2, fuse_id=2, phases=1, rotation="L2L3L1", max_current_a=32),  # on L2
        ChargerNode(3, fuse_id=1, phases=1, rotation="L3L1L2", max_current_a=4),  # below failsafe
    ]
    loads = worst_case_loads([MAIN, ROW], chargers, failsafe_a=6)
    assert loads[ROW.id] == [6, 12, 6]
    assert loads[MAIN.id] == [6, 12, 10]  # charger 3 draws at most its own 4 A


def test_the_largest_safe_failsafe_is_what_the_tightest_fuse_allows() -> None:
    chargers = [
        ChargerNode(n, fuse_id=2, phases=3, rotation="L1L2L3", max_current_a=32) for n in range(3)
    ]
    assert largest_safe_failsafe([MAIN, ROW], chargers) == 5.3  # 16 A / 3, in 0.1 A steps
    assert not overloads([MAIN, ROW], chargers, 5.3)
    worst = overloads([MAIN, ROW], chargers, 5.4)
    assert [(o.fuse.name, o.phase) for o in worst] == [("Row", 0), ("Row", 1), ("Row", 2)]


# --- validation where installers set things ------------------------------------------------------


def test_a_failsafe_current_the_fuses_cannot_carry_is_refused_with_the_way_out(
    world: World,
) -> None:
    site = world.site_a
    # Through the main fuse: A1 at the failsafe, A2's two connectors at twice it (up to 32 A).
    site.failsafe_current_a = 31
    site.full_clean()  # 31 + 32 = 63 A: just fits
    site.failsafe_current_a = 32
    with pytest.raises(ValidationError) as raised:
        site.full_clean()
    message = raised.value.message_dict["failsafe_current_a"][0]
    assert "Main fuse would carry 64 A on L1 (limit 63 A)" in message
    assert "at most 31 A" in message


def test_the_api_refuses_it_with_a_field_error(world: World) -> None:
    url = f"/api/v1/installations/{world.site_a.pk}/"
    # A1 draws at most its own 32 A, and so do A2's two connectors together: 64 A on the main fuse.
    response = api_as(world.ingrid).patch(url, {"failsafe_current_a": 40}, format="json")
    assert response.status_code == 400
    assert "would carry 64 A" in response.json()["error"]["fields"]["failsafe_current_a"][0]
    assert Installation.objects.get(pk=world.site_a.pk).failsafe_current_a == 6


def test_a_charger_the_fuse_cannot_carry_at_failsafe_is_refused(world: World) -> None:
    Installation.objects.filter(pk=world.site_a.pk).update(failsafe_current_a=10)
    world.site_a.refresh_from_db()
    register_charger(circuit=world.row_a, name="A3", ocpp_identity="HARBOUR-A3")  # Row A: 20 A
    with pytest.raises(ValidationError) as raised:  # each of its connectors counts
        register_charger(
            circuit=world.row_a, name="A4", ocpp_identity="HARBOUR-A4", connector_count=2
        )
    assert "Row A would carry 40 A" in raised.value.message_dict["circuit"][0]
    register_charger(circuit=world.row_a, name="A4", ocpp_identity="HARBOUR-A4")  # 30 A: fits


def test_lowering_a_circuit_below_the_failsafe_load_is_refused(world: World) -> None:
    Installation.objects.filter(pk=world.site_a.pk).update(failsafe_current_a=10)
    world.row_a.refresh_from_db()
    world.row_a.max_current_a = 8
    with pytest.raises(ValidationError) as raised:
        world.row_a.full_clean()
    assert (
        "Row A would carry 10 A on L1 (limit 8 A)" in raised.value.message_dict["max_current_a"][0]
    )


# --- the failsafe profile -------------------------------------------------------------------------


def _failsafe_commands() -> list[Command]:
    return list(
        Command.objects.filter(
            payload__csChargingProfiles__chargingProfileId=service.FAILSAFE_PROFILE_ID
        ).order_by("id")
    )


def test_every_online_charger_is_told_its_failsafe_once(world: World) -> None:
    _plug_in(world.charger_a1)
    Charger.objects.filter(pk=world.charger_a1.pk).update(failsafe_sent_a=None)  # e.g. booted
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    [command] = _failsafe_commands()
    profile = command.payload["csChargingProfiles"]
    assert command.charger_id == world.charger_a1.pk
    assert (profile["stackLevel"], profile["chargingProfilePurpose"]) == (0, "TxDefaultProfile")
    assert "validTo" not in profile  # the floor the expiring limits fall back to
    assert profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 6

    service.balance(world.site_a.pk, BalancingTrigger.SWEEP)
    assert len(_failsafe_commands()) == 1  # configured: not sent again
    # (A BootNotification clears it, so a rebooted charger is told again: tests/ocpp.)


def test_a_refused_failsafe_is_sent_again(world: World) -> None:
    from commands.choices import CommandStatus

    _plug_in(world.charger_a1)
    Charger.objects.filter(pk=world.charger_a1.pk).update(failsafe_sent_a=None)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    [command] = _failsafe_commands()
    Command.objects.filter(pk=command.pk).update(status=CommandStatus.REJECTED)
    service.forget_refused_failsafe([command])
    assert Charger.objects.get(pk=world.charger_a1.pk).failsafe_sent_a is None
    service.balance(world.site_a.pk, BalancingTrigger.SWEEP)
    assert len(_failsafe_commands()) == 2


def test_a_new_failsafe_current_reaches_every_online_charger(world: World) -> None:
    _plug_in(world.charger_a1)
    _plug_in(world.charger_a2)
    Installation.objects.filter(pk=world.site_a.pk).update(failsafe_current_a=8)
    service.balance(world.site_a.pk, BalancingTrigger.EVENT)
    sent = {c.charger_id: c.payload["csChargingProfiles"] for c in _failsafe_commands()}
    assert set(sent) == {world.charger_a1.pk, world.charger_a2.pk}
    assert {p["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] for p in sent.values()} == {
        8
    }


# --- limits expire, and are renewed while a car charges --------------------------------------------


def _age_limits(seconds: float) -> None:
    Charger.objects.update(limit_sent_at=timezone.now() - timedelta(seconds=seconds))


def test_a_limit_is_renewed_past_half_its_validity_while_a_car_charges(
    world: World, settings: object
) -> None:
    settings.BALANCING_LIMIT_TTL_SECONDS = 600  # type: ignore[attr-defined]
    _plug_in(world.charger_a1)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    first = _limits_sent()["HARBOUR-A1"]
    amps = first - 0.2
    _plug_in(world.charger_a1, (amps, amps, amps))

    _age_limits(200)
    assert service.balance(world.site_a.pk, BalancingTrigger.SWEEP).commands_sent == 0
    _age_limits(301)
    assert service.balance(world.site_a.pk, BalancingTrigger.SWEEP).commands_sent == 1
    assert _limits_sent()["HARBOUR-A1"] == first  # the same limit, valid for longer
    world.charger_a1.refresh_from_db()
    assert timezone.now() - world.charger_a1.limit_sent_at < timedelta(seconds=5)


def test_an_idle_charger_is_not_renewed(world: World) -> None:
    _plug_in(world.charger_a1)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    world.charger_a1.connectors.update(status="Available")  # the car left: it is paused at 0
    service.balance(world.site_a.pk, BalancingTrigger.EVENT)
    assert _limits_sent()["HARBOUR-A1"] == 0
    before = Command.objects.count()
    _age_limits(10_000)  # long expired: it would apply the failsafe, which the fuses carry
    assert service.balance(world.site_a.pk, BalancingTrigger.SWEEP).commands_sent == 0
    assert Command.objects.count() == before


def test_an_offline_charger_keeps_its_limit_reserved_until_it_expires(world: World) -> None:
    _plug_in(world.charger_a2)
    world.charger_a1.connectors.update(status="Charging")  # a car, but the charger is offline
    Charger.objects.filter(pk=world.charger_a1.pk).update(
        allocated_current_a=20, limit_sent_at=timezone.now()
    )
    scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))
    loads = {fuse["id"]: fuse["base_load"] for fuse in scenario["fuses"]}
    # 20 A still in force, 6 A of it the engine reserves as failsafe: 14 A more on both fuses.
    assert loads[snapshot.fuse_id(world.row_a.pk)] == [14, 14, 14]
    assert loads[snapshot.fuse_id(world.main_a.pk)] == [14, 14, 14]
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[40, 40, 40])
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent()["HARBOUR-A2"] == 40 - 20  # not 40 - 6

    _age_limits(10_000)  # expired: the charger is at its failsafe, which the engine reserves
    scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))
    assert all(fuse["base_load"] == [0, 0, 0] for fuse in scenario["fuses"])


# --- measurements taken before a new limit --------------------------------------------------------


def test_a_draw_measured_before_the_last_limit_does_not_hold_the_car_back(world: World) -> None:
    from commands import routing
    from portal.redis import get_redis

    _plug_in(world.charger_a1, (6.0, 6.0, 0.1))  # a 2-phase car drawing the old 6 A
    sent_at = timezone.now()
    Charger.objects.filter(pk=world.charger_a1.pk).update(
        allocated_current_a=16, limit_sent_at=sent_at
    )
    key = routing.LIVE_KEY.format(charger_id=world.charger_a1.pk)
    get_redis().hset(key, "measured_at", (sent_at - timedelta(seconds=3)).isoformat())
    entry = _entry(world, "HARBOUR-A1")
    assert entry["measured"] is None  # not "the car takes only 6 A"
    assert entry["car_phases"] == 2  # but the phases it uses still count

    get_redis().hset(key, "measured_at", (sent_at + timedelta(seconds=30)).isoformat())
    entry = _entry(world, "HARBOUR-A1")
    assert entry["measured"] == [6.0, 6.0, 0.1] and entry["car_phases"] is None


def test_a_charger_that_reports_no_current_is_unknown_not_idle(world: World) -> None:
    from commands import routing
    from portal.redis import get_redis

    _plug_in(world.charger_a1)
    key = routing.LIVE_KEY.format(charger_id=world.charger_a1.pk)
    get_redis().hset(key, mapping={"current_l1": "", "current_l2": "", "current_l3": ""})
    assert _entry(world, "HARBOUR-A1")["measured"] is None


def _entry(world: World, identity: str) -> dict:
    scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))
    return next(c for c in scenario["chargers"] if c["id"] == identity)
