"""The upstream bridge's harness: a real bridge and test chargers (``tests.ocpp.conftest``) and a
real third-party central system (``central.Central``) on a port of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chargers.models import Charger
from tests.ocpp.conftest import (  # noqa: F401  (fixtures used by the upstream tests)
    BridgeHandle,
    Chargers,
    _committed,
    bridge,
    chargers,
)
from tests.upstream.central import Central
from upstream.models import UpstreamSettings


@pytest.fixture
def central() -> Iterator[Central]:
    """A running central system; ``central.url`` is its base URL (identities are appended)."""
    system = Central().start()
    try:
        yield system
    finally:
        system.close()


def bridge_to(central: Central, charger: Charger, **options: object) -> UpstreamSettings:
    """Bridge ``charger``'s installation to ``central`` (options: UpstreamSettings fields)."""
    settings, _ = UpstreamSettings.objects.update_or_create(
        installation=charger.installation,
        charger=None,
        defaults={"url": central.url, **options},
    )
    return settings


@pytest.fixture(autouse=True)
def _local_upstreams(settings: object) -> None:
    """The test central systems listen on 127.0.0.1: allowed as in the demo (tests that check
    production's rule set it False)."""
    settings.UPSTREAM_ALLOW_LOCAL = True  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links reconnect, and retry a refused message, within a fraction of a second in tests
    (minutes and seconds in production)."""
    from ocpp_bridge.upstream.link import Link

    monkeypatch.setattr(Link, "backoff_base_s", 0.05)
    monkeypatch.setattr(Link, "backoff_cap_s", 0.3)
    monkeypatch.setattr(Link, "retry_interval_s", 0.1)  # a refused transaction message


BOOT = {"chargePointVendor": "Wallbox", "chargePointModel": "Pulsar", "firmwareVersion": "6.1"}


def boot(test_charger: object) -> dict:
    """The charger's BootNotification, answered Accepted by Fusebox."""
    answer = test_charger.result("BootNotification", BOOT)  # type: ignore[attr-defined]
    assert answer["status"] == "Accepted"
    return answer
