"""What a charger says over its websocket that the balancing loop must react to at once."""

from __future__ import annotations

import pytest
from django.utils import timezone

from balancing import tasks
from chargers.models import Charger
from portal.redis import get_redis
from tests.conftest import World
from tests.ocpp.conftest import BridgeHandle, Chargers, TestCharger, eventually


@pytest.fixture
def a1(world: World, chargers: Chargers) -> TestCharger:
    charger = chargers.connect(world.charger_a1)
    charger.settle()  # the connection itself asked for a solve: start from a clean slate
    get_redis().delete(_queued(world))
    return charger


def _queued(world: World) -> str:
    return tasks.QUEUED_KEY.format(installation_id=world.site_a.pk)


def _status(status: str) -> dict:
    return {"connectorId": 1, "errorCode": "NoError", "status": status}


def test_a_car_plugging_in_asks_for_a_solve_and_a_repeated_status_does_not(
    world: World, a1: TestCharger
) -> None:
    a1.result("StatusNotification", _status("Preparing"))
    a1.settle()
    assert get_redis().exists(_queued(world))  # a debounced solve is on its way

    get_redis().delete(_queued(world))
    a1.result("StatusNotification", _status("Preparing"))
    a1.settle()
    assert not get_redis().exists(_queued(world))  # nothing changed


def test_a_boot_forgets_the_profiles_sent_and_asks_for_a_solve(
    world: World, a1: TestCharger
) -> None:
    Charger.objects.filter(pk=world.charger_a1.pk).update(
        failsafe_sent_a=6, limit_sent_at=timezone.now(), allocated_current_a=16
    )
    a1.result("BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "W22"})
    a1.settle()
    charger = Charger.objects.get(pk=world.charger_a1.pk)
    # A charger may lose its profiles in a reboot: the failsafe and the limit are sent again.
    assert (charger.failsafe_sent_a, charger.limit_sent_at) == (None, None)
    assert get_redis().exists(_queued(world))


def test_a_charger_going_offline_asks_for_a_solve(
    world: World, a1: TestCharger, bridge: BridgeHandle
) -> None:
    a1.close()

    def queued() -> bool:
        bridge.flush()  # online changes are written in batches
        return bool(get_redis().exists(_queued(world)))

    assert eventually(queued, timeout=10)
