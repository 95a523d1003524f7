"""The live loop around the engine: snapshot from database and Redis, limits sent lowering first."""

from __future__ import annotations

import pytest
from django.utils import timezone

from balancing import service, snapshot, tasks
from balancing.engine import solve
from balancing.models import BalancingDecision, BalancingTrigger
from chargers.choices import ConnectorStatus
from chargers.models import Charger, ChargeSession
from commands import routing
from commands.models import Command
from installations.models import Installation
from portal.redis import get_redis
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


def _plug_in(charger: Charger, currents: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
    """The charger is online with a car on connector 1, drawing ``currents`` on its own phases."""
    charger.connectors.filter(connector_id=1).update(status=ConnectorStatus.CHARGING)
    # Its failsafe is configured already (tests/balancing_loop/test_failsafe.py covers sending it).
    Charger.objects.filter(pk=charger.pk).update(
        is_online=True, failsafe_sent_a=charger.installation.failsafe_current_a
    )
    redis = get_redis()
    redis.set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), "node-test", ex=60)
    redis.hset(
        routing.LIVE_KEY.format(charger_id=charger.pk),
        mapping={
            "online": "1",
            "current_l1": currents[0],
            "current_l2": currents[1],
            "current_l3": currents[2],
        },
    )


def _limits_sent() -> dict[str, float]:
    """The balancing limits sent (not the failsafe profiles), by charger."""
    sent = {}
    balancing = Command.objects.filter(
        action="SetChargingProfile",
        payload__csChargingProfiles__chargingProfileId=service.BALANCING_PROFILE_ID,
    )
    for command in balancing.order_by("id"):
        period = command.payload["csChargingProfiles"]["chargingSchedule"][
            "chargingSchedulePeriod"
        ][0]
        sent[command.charger.ocpp_identity] = float(period["limit"])
    return sent


def test_rotation_places_charger_phases_on_installation_phases() -> None:
    assert snapshot.rotation_indexes("L2L3L1") == [1, 2, 0]
    assert snapshot.to_installation_phases([16.0, 15.0, None], "L2L3L1") == [0.0, 16.0, 15.0]


def test_snapshot_has_the_fuse_tree_live_measurements_and_sessions(world: World) -> None:
    _plug_in(world.charger_a1, (15.8, 15.9, 0.2))
    Charger.objects.filter(pk=world.charger_a1.pk).update(phase_rotation="L3L1L2", priority=2)
    ChargeSession.objects.create(
        charger=world.charger_a1, connector=world.charger_a1.connectors.get(), id_tag="T",
        started_at=timezone.now(), meter_start_wh=0, energy_wh=4200,
    )  # fmt: skip
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[40, 50, 70])
    scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))

    fuses = {fuse["id"]: fuse for fuse in scenario["fuses"]}
    main, row = fuses[f"circuit-{world.main_a.pk}"], fuses[f"circuit-{world.row_a.pk}"]
    assert main["parent"] is None and main["limit"] == [
        40,
        50,
        63,
    ]  # live limit, never above the fuse
    assert row["parent"] == main["id"] and row["limit"] == [32, 32, 32]
    chargers = {charger["id"]: charger for charger in scenario["chargers"]}
    a1, a2 = chargers["HARBOUR-A1"], chargers["HARBOUR-A2"]
    assert a1["measured"] == [15.9, 0.2, 15.8]  # charger L1 is wired to installation L3
    assert (a1["online"], a1["car_connected"], a1["priority"], a1["energy_wh"]) == (
        True,
        True,
        2,
        4200,
    )
    assert (a2["online"], a2["car_connected"]) == (False, False)
    solve(scenario)  # the engine accepts it


def test_balance_sends_limits_that_keep_every_fuse_safe(world: World) -> None:
    for charger in (world.charger_a1, world.charger_a2):
        _plug_in(charger)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[20, 20, 20])
    decision = service.balance(world.site_a.pk, BalancingTrigger.MANUAL, "test")
    assert decision is not None and decision.commands_sent == 3  # A2 has two connectors
    limits = _limits_sent()
    assert set(limits) == {"HARBOUR-A1", "HARBOUR-A2"}
    assert sum(limits.values()) <= 20  # both 3-phase, on every phase of the 20 A live limit
    assert all(limit == 0 or limit >= 6 for limit in limits.values())
    world.charger_a1.refresh_from_db()
    assert world.charger_a1.allocated_current_a == limits["HARBOUR-A1"]
    # The cars now draw what they were given: a second solve changes nothing and sends nothing.
    for charger in (world.charger_a1, world.charger_a2):
        amps = limits[charger.ocpp_identity] - 0.2
        _plug_in(charger, (amps, amps, amps))
    assert service.balance(world.site_a.pk, BalancingTrigger.SWEEP).commands_sent == 0


def test_lowering_limits_are_sent_before_raising_ones(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "LOWERING_WAIT_S", 0.2)
    _plug_in(world.charger_a1, (31.8, 31.8, 31.8))
    _plug_in(world.charger_a2, (5.9, 5.9, 5.9))
    Charger.objects.filter(pk=world.charger_a1.pk).update(allocated_current_a=32)  # too much now
    Charger.objects.filter(pk=world.charger_a2.pk).update(allocated_current_a=6)  # too little
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[40, 40, 40])
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    order = list(Command.objects.order_by("id").values_list("charger__ocpp_identity", flat=True))
    assert order == ["HARBOUR-A1", "HARBOUR-A2", "HARBOUR-A2"]
    limits = _limits_sent()
    assert limits["HARBOUR-A1"] < 32 < limits["HARBOUR-A1"] + limits["HARBOUR-A2"] <= 40


def test_an_offline_charger_with_a_car_is_reserved_at_failsafe(world: World) -> None:
    _plug_in(world.charger_a2)
    world.charger_a1.connectors.update(status=ConnectorStatus.CHARGING)  # car, but charger offline
    Installation.objects.filter(pk=world.site_a.pk).update(
        available_current_a=[20, 20, 20], failsafe_current_a=8
    )
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _limits_sent() == {"HARBOUR-A2": 12.0}


def test_one_installation_is_never_balanced_twice_at_once(world: World) -> None:
    lock = get_redis().lock(tasks.LOCK_KEY.format(installation_id=world.site_a.pk), timeout=10)
    assert lock.acquire(blocking=False)
    try:
        assert tasks.balance_installation(world.site_a.pk) == 0
        assert get_redis().exists(tasks.DIRTY_KEY.format(installation_id=world.site_a.pk))
    finally:
        lock.release()
    assert tasks.balance_installation(world.site_a.pk) == 1
    assert BalancingDecision.objects.filter(installation=world.site_a).count() == 1


def test_changing_a_setting_requests_one_debounced_solve(
    world: World, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    redis = get_redis()
    before = redis.llen("celery")
    with django_capture_on_commit_callbacks(execute=True):
        world.row_a.max_current_a = 25
        world.row_a.save()
        world.charger_a1.max_current_a = 16
        world.charger_a1.save()
    assert redis.exists(tasks.QUEUED_KEY.format(installation_id=world.site_a.pk))
    assert (
        redis.llen("celery") - before <= 1
    )  # the two changes share one solve (queued with a countdown)
    with django_capture_on_commit_callbacks(execute=True):
        Charger.objects.get(pk=world.charger_a1.pk).save(update_fields=["last_seen_at"])
    assert redis.llen("celery") - before <= 1  # bookkeeping saves do not trigger


def test_sweep_covers_installations_with_chargers_online(world: World) -> None:
    Charger.objects.filter(pk=world.charger_b1.pk).update(is_online=True)
    assert tasks.sweep() == 1


def test_the_profile_sent_is_valid_ocpp_and_in_force_at_once() -> None:
    from datetime import UTC, datetime, timedelta

    from commands.payloads import payload_errors

    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    payload = service.charging_profile(
        16.0, 3, profile_id=1001, stack_level=1, now=now, valid_for=timedelta(minutes=10)
    )
    assert payload_errors("SetChargingProfile", payload) == {}
    # It expires unless renewed: then the failsafe profile below it applies again.
    assert payload["csChargingProfiles"]["validTo"] == "2026-11-24T10:10:00Z"
    schedule = payload["csChargingProfiles"]["chargingSchedule"]
    # Absolute profiles need a start (chargers reject them otherwise); a minute early covers clock skew.
    assert schedule["startSchedule"] == "2026-11-24T09:59:00Z"
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0, "numberPhases": 3}
    ]


class TestAvailableCurrentApi:
    URL = "/api/v1/installations/{}/available-current/"

    def test_an_ems_reports_available_current_and_a_solve_follows(
        self, world: World, django_capture_on_commit_callbacks
    ) -> None:  # type: ignore[no-untyped-def]
        from tests.conftest import api_as

        redis = get_redis()
        with django_capture_on_commit_callbacks(execute=True):
            response = api_as(world.ingrid).post(
                self.URL.format(world.site_a.pk),
                {"current_a": [40, 45.5, 50], "valid_until": "2999-01-01T00:00:00Z"},
            )
        assert response.status_code == 200, response.content
        site = Installation.objects.get(pk=world.site_a.pk)
        assert site.available_current_a == [40, 45.5, 50]
        assert redis.exists(
            tasks.QUEUED_KEY.format(installation_id=world.site_a.pk)
        )  # solve queued
        scenario = snapshot.build_scenario(site)
        main = next(fuse for fuse in scenario["fuses"] if fuse["parent"] is None)
        assert main["limit"] == [40, 45.5, 50]

    def test_an_expired_report_no_longer_limits(self, world: World) -> None:
        from datetime import timedelta

        Installation.objects.filter(pk=world.site_a.pk).update(
            available_current_a=[10, 10, 10],
            available_current_valid_until=timezone.now() - timedelta(seconds=1),
        )
        scenario = snapshot.build_scenario(Installation.objects.get(pk=world.site_a.pk))
        main = next(fuse for fuse in scenario["fuses"] if fuse["parent"] is None)
        assert main["limit"] == [63, 63, 63]

    def test_bad_reports_and_other_roles_are_refused(self, world: World) -> None:
        from tests.conftest import api_as

        url = self.URL.format(world.site_a.pk)
        response = api_as(world.alice).post(url, {"current_a": [40, -1]})
        assert response.status_code == 400
        assert "current_a" in response.json()["error"]["fields"]
        response = api_as(world.alice).post(
            url, {"current_a": [1, 2, 3], "valid_until": "2000-01-01T00:00:00Z"}
        )
        assert "valid_until" in response.json()["error"]["fields"]
        assert api_as(world.dora).post(url, {"current_a": [1, 2, 3]}).status_code == 404
        assert api_as(world.oscar).post(url, {"current_a": [1, 2, 3]}).status_code == 404
        assert Installation.objects.get(pk=world.site_a.pk).available_current_a is None


def test_a_sweep_with_the_same_answer_is_not_stored_again(world: World) -> None:
    _plug_in(world.charger_a1)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    amps = _limits_sent()["HARBOUR-A1"] - 0.2
    _plug_in(world.charger_a1, (amps, amps, amps))
    service.balance(world.site_a.pk, BalancingTrigger.EVENT)  # events are always stored
    for _ in range(3):
        assert service.balance(world.site_a.pk, BalancingTrigger.SWEEP).pk is None
    latest = BalancingDecision.objects.filter(installation=world.site_a).first()
    assert BalancingDecision.objects.filter(installation=world.site_a).count() == 2
    assert latest.confirmations == 3 and latest.confirmed_at is not None

    _plug_in(world.charger_a2)  # a new car: a new answer, stored
    assert service.balance(world.site_a.pk, BalancingTrigger.SWEEP).pk is not None


def test_old_decisions_are_pruned(world: World) -> None:
    from datetime import timedelta

    for _ in range(3):
        service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    old = timezone.now() - timedelta(days=40)
    BalancingDecision.objects.filter(
        pk__in=BalancingDecision.objects.order_by("id").values("pk")[:2]
    ).update(created_at=old)
    assert tasks.prune_decisions() == 2
    assert BalancingDecision.objects.count() == 1


def test_a_charger_with_several_connectors_gets_a_cap_on_their_sum(world: World) -> None:
    """TxDefaultProfile is a limit per connector: two cars on A2 could draw twice the limit. A
    ChargePointMaxProfile caps the sum; it goes first when lowering and last when raising."""
    _plug_in(world.charger_a2)
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    raising = _purposes(world.charger_a2)
    assert raising == ["TxDefaultProfile", "ChargePointMaxProfile"]

    Command.objects.all().delete()
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=[10, 10, 10])
    service.balance(world.site_a.pk, BalancingTrigger.MANUAL)
    assert _purposes(world.charger_a2) == ["ChargePointMaxProfile", "TxDefaultProfile"]
    limits = {
        c.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
        for c in Command.objects.filter(charger=world.charger_a2)
    }
    assert len(limits) == 1 and limits.pop() <= 10  # one limit, carried by both


def _purposes(charger: Charger) -> list[str]:
    return [
        command.payload["csChargingProfiles"]["chargingProfilePurpose"]
        for command in Command.objects.filter(
            charger=charger,
            payload__csChargingProfiles__chargingProfileId__in=[
                service.BALANCING_PROFILE_ID,
                service.CHARGER_MAX_PROFILE_ID,
            ],
        ).order_by("id")
    ]
