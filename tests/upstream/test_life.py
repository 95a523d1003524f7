"""A link's life: the charger going away (disconnect, or stay and report Unavailable), settings
changes reaching the bridge, DataTransfer passed through, bad frames from upstream, the status
row (docs/upstream.md)."""

from __future__ import annotations

import time

import pytest

from chargers.models import Charger
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger, eventually
from tests.upstream.central import Central
from tests.upstream.conftest import boot, bridge_to
from upstream import outbox
from upstream.choices import ChargerDown, LinkState
from upstream.models import UpstreamLink


def _connect(chargers: Chargers, charger: Charger) -> TestCharger:
    test_charger = chargers.connect(charger, accepted=False)
    boot(test_charger)
    return test_charger


def _ready(chargers: Chargers, charger: Charger) -> bool:
    link = chargers.bridge.bridge.upstream.links.get(charger.pk)
    return link is not None and link.ready


def _state(charger: Charger) -> str | None:
    chargers_bridge_flush = UpstreamLink.objects.filter(charger=charger).values_list(
        "state", flat=True
    )
    return chargers_bridge_flush.first()


def test_charger_down_disconnect_closes_the_upstream_connection(
    world: World, central: Central, chargers: Chargers
) -> None:
    bridge_to(central, world.charger_a1)
    a1 = _connect(chargers, world.charger_a1)
    identity = world.charger_a1.ocpp_identity
    eventually(lambda: central.is_connected(identity))
    eventually(lambda: _state(world.charger_a1) == LinkState.CONNECTED, timeout=8)
    a1.close()
    eventually(lambda: not central.is_connected(identity))
    eventually(lambda: _state(world.charger_a1) == LinkState.CHARGER_OFFLINE, timeout=8)
    assert central.violations == []


def test_charger_down_unavailable_keeps_the_link_and_reports_unavailable(
    world: World, central: Central, chargers: Chargers
) -> None:
    central.interval = 1
    bridge_to(central, world.charger_a2, charger_down=ChargerDown.UNAVAILABLE)
    a2 = _connect(chargers, world.charger_a2)
    identity = world.charger_a2.ocpp_identity
    a2.result(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    )
    a2.result(
        "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Charging"}
    )
    eventually(lambda: len(central.of(identity, "StatusNotification")) >= 2)
    a2.close()
    eventually(
        lambda: (
            {
                m.payload["connectorId"]
                for m in central.of(identity, "StatusNotification")
                if m.payload["status"] == "Unavailable"
            }
            >= {1, 2}
        )
    )
    heartbeats = len(central.of(identity, "Heartbeat"))
    eventually(lambda: len(central.of(identity, "Heartbeat")) > heartbeats, timeout=4)
    assert central.is_connected(identity)
    eventually(lambda: _state(world.charger_a2) == LinkState.CHARGER_OFFLINE, timeout=8)
    # The charger returns: the link it kept re-sends the current statuses.
    a2 = chargers.connect(world.charger_a2)
    a2.result(
        "StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Finishing"}
    )
    eventually(
        lambda: central.of(identity, "StatusNotification")[-1].payload["status"] == "Finishing"
    )
    assert len(central.of(identity, "BootNotification")) == 1
    assert central.violations == []


def test_a_settings_change_reconnects_with_the_new_settings(
    world: World, central: Central, chargers: Chargers
) -> None:
    settings = bridge_to(central, world.charger_a1)
    _connect(chargers, world.charger_a1)
    identity = world.charger_a1.ocpp_identity
    eventually(lambda: central.is_connected(identity))
    settings.identity = "FB-{identity}"
    settings.save()
    outbox.settings_changed(world.site_a.pk)
    eventually(lambda: central.is_connected(f"FB-{identity}"))
    eventually(lambda: not central.is_connected(identity))
    settings.enabled = False
    settings.save()
    outbox.settings_changed(world.site_a.pk)
    eventually(lambda: not central.is_connected(f"FB-{identity}"))
    eventually(lambda: not chargers.bridge.bridge.upstream.links)
    assert central.violations == []


def test_a_charger_bridged_while_connected_gets_its_link(
    world: World, central: Central, chargers: Chargers
) -> None:
    _connect(chargers, world.charger_a1)
    bridge_to(central, world.charger_a1)
    outbox.settings_changed(world.site_a.pk)
    eventually(lambda: central.of(world.charger_a1.ocpp_identity, "BootNotification"))


def test_data_transfer_is_passed_through_and_answered_locally_without_upstream(
    world: World, central: Central, chargers: Chargers
) -> None:
    bridge_to(central, world.charger_a1)
    a1 = _connect(chargers, world.charger_a1)
    eventually(lambda: _ready(chargers, world.charger_a1))
    transfer = {"vendorId": "com.example", "messageId": "hello", "data": "42"}
    assert a1.result("DataTransfer", transfer) == {"status": "Accepted", "data": "upstream"}
    assert central.of(world.charger_a1.ocpp_identity, "DataTransfer")[0].payload == transfer
    central.stop()
    eventually(lambda: not _ready(chargers, world.charger_a1))
    assert a1.result("DataTransfer", transfer) == {"status": "UnknownVendorId"}


def test_bad_frames_from_upstream_get_a_call_error_and_never_reach_the_charger(
    world: World, central: Central, chargers: Chargers
) -> None:
    bridge_to(central, world.charger_a1)
    a1 = _connect(chargers, world.charger_a1)
    identity = world.charger_a1.ocpp_identity
    eventually(lambda: _ready(chargers, world.charger_a1))
    assert central.send_raw(identity, [2, "u1", "NoSuchAction", {}])[2] == "NotImplemented"
    assert central.send_raw(identity, '[2, "u2", "Reset", {"type": 7}]')[0] == 4
    assert central.send_raw(identity, '[2, "u3", "Heartbeat", {}]')[2] == "NotSupported"
    assert a1.heartbeat_answers()
    assert a1.received == []
    assert _ready(chargers, world.charger_a1)


def test_a_hung_upstream_never_holds_up_the_charger(
    world: World, central: Central, chargers: Chargers
) -> None:
    from auth_access.models import ChargeCard
    from upstream.choices import UpstreamAuthorization

    ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")
    bridge_to(central, world.charger_a1, authorization=UpstreamAuthorization.UPSTREAM)
    a1 = _connect(chargers, world.charger_a1)
    identity = world.charger_a1.ocpp_identity
    eventually(lambda: _ready(chargers, world.charger_a1))
    central.silent = {"Authorize", "StartTransaction", "DataTransfer", "StatusNotification"}
    started = time.monotonic()
    # Authorize: upstream's deadline (5 s), then the offline rule (a card Fusebox knows).
    reply = a1.send([2, "a1", "Authorize", {"idTag": "DORA-1"}], timeout=10)
    assert reply[2]["idTagInfo"]["status"] == "Accepted"
    assert 4 < time.monotonic() - started < 7
    started = time.monotonic()
    start = {
        "connectorId": 1,
        "idTag": "DORA-1",
        "meterStart": 0,
        "timestamp": "2026-02-01T18:00:00Z",
    }
    assert a1.result("StartTransaction", start)["idTagInfo"]["status"] == "Accepted"
    a1.result(
        "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
    )
    assert a1.heartbeat_answers()
    assert time.monotonic() - started < 1  # nothing waited for upstream
    eventually(lambda: central.of(identity, "StartTransaction"))  # sent, never answered
    transfer = {"vendorId": "com.example"}
    started = time.monotonic()
    assert a1.result("DataTransfer", transfer) == {"status": "UnknownVendorId"}
    assert time.monotonic() - started < 4.5


def test_when_one_link_reaches_a_central_system_again_the_others_waiting_for_it_retry_soon(
    world: World, central: Central, chargers: Chargers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an outage the links in backoff (here up to a minute) do not wait it out once one
    link to the same central system got through: they retry within about a second."""
    from ocpp_bridge.upstream.link import Link

    bridge_to(central, world.charger_a1)
    a1 = _connect(chargers, world.charger_a1)
    _connect(chargers, world.charger_a2)
    eventually(lambda: _ready(chargers, world.charger_a1) and _ready(chargers, world.charger_a2))
    monkeypatch.setattr(Link, "backoff_base_s", 30.0)  # the retries from now on: up to 60 s
    monkeypatch.setattr(Link, "backoff_cap_s", 60.0)
    manager = chargers.bridge.bridge.upstream
    central.stop()
    link_a2 = manager.links[world.charger_a2.pk]
    eventually(lambda: link_a2 in manager._backing_off.get(link_a2.origin, set()), timeout=8)
    central.start()
    # A charger coming back opens a new link at once (no backoff): it reaches upstream, and the
    # link of A2, waiting up to a minute, follows within the spread (1 s here).
    a1.close()
    _connect(chargers, world.charger_a1)
    eventually(lambda: _ready(chargers, world.charger_a1), timeout=5)
    started = time.monotonic()
    eventually(lambda: _ready(chargers, world.charger_a2), timeout=5)
    assert time.monotonic() - started < 3
    assert not manager._backing_off
    assert central.violations == []
