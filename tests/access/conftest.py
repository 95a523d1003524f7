"""Access-control fixtures: the real-websocket harness of tests/ocpp, cards, a clean Redis slate.

Tests that talk to chargers over websockets mark themselves ``pytest.mark.usefixtures(
"transactional_db")`` (the bridge's threads must see what the test wrote); the others run in
the usual rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from auth_access import egress
from auth_access.models import ChargeCard
from portal.redis import get_redis
from tests.access.fake_dns import FakeDns
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger, bridge, chargers  # noqa: F401

FUTURE = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_queued_access_work() -> Iterator[None]:
    """Debounce keys of earlier tests must not swallow this test's requests."""
    redis = get_redis()
    for key in redis.scan_iter("fusebox:access:*"):
        redis.delete(key)
    yield


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """No test asks real DNS (the SSRF guard resolves every external authorizer's host)."""
    resolver = FakeDns()
    monkeypatch.setattr(egress, "lookup", resolver)
    return resolver


@pytest.fixture
def local_authorizers(settings: Any) -> None:
    """The tests' authorizer listens on 127.0.0.1 over plain http: the development switch."""
    settings.ACCESS_EXTERNAL_ALLOW_HTTP = True


@pytest.fixture
def cards(world: World) -> dict[str, ChargeCard]:
    """dora's card (valid until 2031), dave's, ingrid's and oscar's (another tenant's driver)."""
    return {
        "dora": ChargeCard.objects.create(user=world.dora, id_tag="DORA-1", expires_at=FUTURE),
        "dave": ChargeCard.objects.create(user=world.dave, id_tag="DAVE-1"),
        "ingrid": ChargeCard.objects.create(user=world.ingrid, id_tag="INGRID-1"),
        "oscar": ChargeCard.objects.create(user=world.oscar, id_tag="OSCAR-1"),
    }


@pytest.fixture
def a1(world: World, chargers: Chargers) -> TestCharger:  # noqa: F811
    return chargers.connect(world.charger_a1)


@pytest.fixture
def a2(world: World, chargers: Chargers) -> TestCharger:  # noqa: F811
    return chargers.connect(world.charger_a2)
