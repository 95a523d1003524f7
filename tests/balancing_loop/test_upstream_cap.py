"""An upstream charging profile is one more cap on the charger: balancing sends the lower of the
two, and a cap below the charger's minimum pauses the car (docs/upstream.md, the safety rule)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from balancing import service
from balancing.models import BalancingTrigger
from chargers.choices import SessionStatus
from chargers.models import Charger, ChargeSession
from installations.models import Installation
from tests.balancing_loop.test_loop import _clean_redis, _limits_sent, _plug_in
from tests.conftest import World
from upstream import caps
from upstream.models import UpstreamCap, UpstreamTransaction

pytestmark = pytest.mark.django_db
__all__ = ["_clean_redis"]


def _profile(limit: float, **fields: Any) -> dict[str, Any]:
    start = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "chargingProfileId": fields.pop("id", 7),
        "stackLevel": fields.pop("stackLevel", 0),
        "chargingProfilePurpose": fields.pop("purpose", "TxDefaultProfile"),
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": start,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
        **fields,
    }


def _only_a1(world: World, available: float) -> None:
    _plug_in(world.charger_a1)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[available] * 3)


def test_a_32_a_profile_while_balancing_allows_10_a_gives_10_a(world: World) -> None:
    _only_a1(world, 10)
    caps.store(world.charger_a1.pk, 0, _profile(32))
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 10.0}


def test_a_6_a_profile_while_balancing_allows_16_a_gives_6_a(world: World) -> None:
    _only_a1(world, 16)
    caps.store(world.charger_a1.pk, 1, _profile(6))
    decision = service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 6.0}
    entry = next(c for c in decision.scenario["chargers"] if c["id"] == "HARBOUR-A1")
    assert entry["upstream_cap"] == 6.0  # the decision shows why


def test_a_cap_below_the_minimum_pauses_the_car_and_clearing_it_gives_the_current_back(
    world: World,
) -> None:
    _only_a1(world, 16)
    caps.store(world.charger_a1.pk, 0, _profile(3, id=9))
    decision = service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 0.0}
    assert "HARBOUR-A1" in decision.result["paused"]
    assert caps.clear(world.charger_a1.pk, profile_id=9) == 1
    Charger.objects.filter(pk=world.charger_a1.pk).update(limit_sent_at=None)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 16.0}


def test_stacking_and_clearing_by_criteria(world: World) -> None:
    _only_a1(world, 32)
    caps.store(world.charger_a1.pk, 0, _profile(20, id=1, stackLevel=0))
    caps.store(world.charger_a1.pk, 0, _profile(8, id=2, stackLevel=3))
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 8.0}
    assert caps.clear(world.charger_a1.pk, stack_level=3, purpose="TxDefaultProfile") == 1
    Charger.objects.filter(pk=world.charger_a1.pk).update(limit_sent_at=None)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 20.0}
    # The same id, or the same connector, purpose and stack level, replaces a stored profile.
    caps.store(world.charger_a1.pk, 0, _profile(10, id=1, stackLevel=0))
    caps.store(world.charger_a1.pk, 0, _profile(12, id=5, stackLevel=0))
    assert list(UpstreamCap.objects.values_list("profile_id", flat=True)) == [5]


def test_a_tx_profile_needs_its_transaction_and_lapses_with_it(world: World) -> None:
    _only_a1(world, 32)
    with pytest.raises(caps.CapRejected):
        caps.store(world.charger_a1.pk, 1, _profile(10, purpose="TxProfile"))
    session = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.get(), id_tag="T",
        started_at=timezone.now(), meter_start_wh=0,
    )  # fmt: skip
    UpstreamTransaction.objects.create(
        session=session, charger=world.charger_a1, upstream_transaction_id=4242
    )
    with pytest.raises(caps.CapRejected):  # upstream's id of another transaction
        caps.store(world.charger_a1.pk, 1, _profile(10, purpose="TxProfile", transactionId=1))
    with pytest.raises(caps.CapRejected):
        caps.store(world.charger_a1.pk, 0, _profile(10, purpose="TxProfile"))
    caps.store(world.charger_a1.pk, 1, _profile(10, purpose="TxProfile", transactionId=4242))
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 10.0}
    ChargeSession.objects.filter(pk=session.pk).update(status=SessionStatus.COMPLETED)
    assert caps.lapse(world.charger_a1.pk) == 1


def test_a_remote_starts_profile_binds_only_the_transaction_that_follows_it(world: World) -> None:
    _only_a1(world, 32)
    with pytest.raises(caps.CapRejected):  # a remote start's profile is a TxProfile
        caps.store(world.charger_a1.pk, 1, _profile(8), remote_start=True)
    caps.store(world.charger_a1.pk, 1, _profile(8, purpose="TxProfile"), remote_start=True)
    late = ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.get(), id_tag="T",
        started_at=timezone.now() + timedelta(minutes=10), meter_start_wh=0,
    )  # fmt: skip
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 32.0}  # not the transaction upstream started
    assert UpstreamCap.objects.get().session_id is None
    ChargeSession.objects.filter(pk=late.pk).update(started_at=timezone.now())
    Charger.objects.filter(pk=world.charger_a1.pk).update(limit_sent_at=None)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 8.0}
    assert UpstreamCap.objects.get().session_id == late.pk


def test_a_misbehaving_upstream_never_breaks_balancing(world: World) -> None:
    _only_a1(world, 16)
    with pytest.raises(caps.CapRejected):  # beyond what OCPP 1.6 and the columns hold
        caps.store(world.charger_a1.pk, 0, _profile(6, id=2**40))
    far = _profile(6, id=1)
    far["chargingSchedule"]["startSchedule"] = "9999-12-31T23:59:59Z"
    far["chargingSchedule"]["duration"] = 2**31 - 1
    caps.store(world.charger_a1.pk, 0, far)  # no arithmetic can follow it: ignored
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A1": 16.0}
    for profile_id in range(2, 2 + caps.MAX_PROFILES - 1):
        caps.store(world.charger_a1.pk, 0, _profile(16, id=profile_id, stackLevel=profile_id))
    with pytest.raises(caps.CapRejected):
        caps.store(world.charger_a1.pk, 0, _profile(16, id=99, stackLevel=99))
    caps.store(world.charger_a1.pk, 0, _profile(12, id=2, stackLevel=2))  # a replacement is fine
    assert UpstreamCap.objects.count() == caps.MAX_PROFILES
