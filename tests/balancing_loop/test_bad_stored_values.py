"""The balancing worker survives a live available current written around validation (raw SQL, an
old row): that installation is skipped with a log line, the others are balanced, and the Load tab
still opens (issue #11 item 15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from balancing import service, tasks
from balancing.models import BalancingDecision, BalancingTrigger
from chargers.choices import ConnectorStatus
from chargers.models import Charger
from commands import routing
from installations.models import Installation
from portal.redis import get_redis
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_redis() -> None:
    get_redis().flushdb()


def _plug_in(charger: Charger) -> None:
    charger.connectors.filter(connector_id=1).update(status=ConnectorStatus.CHARGING)
    Charger.objects.filter(pk=charger.pk).update(
        is_online=True, failsafe_sent_a=charger.installation.failsafe_current_a
    )
    redis = get_redis()
    redis.set(routing.PRESENCE_KEY.format(identity=charger.ocpp_identity), "node-test", ex=60)
    redis.hset(routing.LIVE_KEY.format(charger_id=charger.pk), mapping={"online": "1"})


@pytest.mark.parametrize(
    "stored",
    [[40.0, 40.0], [float("nan"), 40.0, 40.0], [float("inf")] * 3, [1e308, 40.0, 40.0], [-5.0] * 3],
)
def test_a_bad_stored_value_skips_that_installation_with_a_log_line(
    world: World, client: Client, stored: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    _plug_in(world.charger_a1)
    _plug_in(world.charger_b1)
    Installation.objects.filter(pk=world.site_a.pk).update(available_current_a=stored)

    assert tasks.balance_installation(world.site_a.pk, BalancingTrigger.SWEEP) == 1
    assert not BalancingDecision.objects.filter(installation=world.site_a).exists()
    assert f"Installation {world.site_a.pk} not balanced" in caplog.text
    assert "unusable" in caplog.text

    assert tasks.balance_installation(world.site_b.pk, BalancingTrigger.SWEEP) == 1
    assert BalancingDecision.objects.filter(installation=world.site_b).count() == 1

    client.force_login(world.alice)
    assert client.get(f"/installations/{world.site_a.pk}/load/").status_code == 200


def test_an_expired_bad_value_no_longer_stops_balancing(world: World) -> None:
    _plug_in(world.charger_a1)
    Installation.objects.filter(pk=world.site_a.pk).update(
        available_current_a=[40.0, 40.0],
        available_current_valid_until=timezone.now() - timedelta(seconds=1),
    )
    decision = service.balance(world.site_a.pk, BalancingTrigger.SWEEP)
    assert decision is not None
