"""The upstream link: connection, boot (Pending/Rejected retried), heartbeat, status relay and
re-send, security profiles (docs/upstream.md, "What is relayed")."""

from __future__ import annotations

from events.models import Event
from tests.conftest import World
from tests.ocpp.conftest import Chargers, eventually
from tests.upstream.central import Central
from tests.upstream.conftest import BOOT, boot, bridge_to
from upstream.choices import LinkState
from upstream.models import UpstreamLink


def _status(connector: int, status: str) -> dict:
    return {"connectorId": connector, "errorCode": "NoError", "status": status}


def test_a_charger_boots_and_upstream_sees_its_boot_and_statuses(
    world: World, central: Central, chargers: Chargers
) -> None:
    bridge_to(central, world.charger_a1)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    identity = world.charger_a1.ocpp_identity
    boots = eventually(lambda: central.of(identity, "BootNotification"))
    assert boots[0].payload == BOOT
    a1.result("StatusNotification", _status(1, "Preparing"))
    eventually(lambda: central.of(identity, "StatusNotification"))
    statuses = eventually(
        lambda: (
            [m.payload["status"] for m in central.of(identity, "StatusNotification")]
            if any(
                m.payload["status"] == "Preparing"
                for m in central.of(identity, "StatusNotification")
            )
            else None
        )
    )
    assert statuses[-1] == "Preparing"
    assert central.violations == []


def test_an_unbridged_charger_gets_no_link(
    world: World, central: Central, chargers: Chargers
) -> None:
    bridge_to(central, world.charger_b1)  # another installation
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    a1.settle()
    assert chargers.bridge.bridge.upstream.links == {}
    assert central.received == []


def test_a_rejected_then_pending_boot_is_retried_after_upstream_interval(
    world: World, central: Central, chargers: Chargers
) -> None:
    identity = world.charger_a1.ocpp_identity
    central.state(identity).boot_plan = ["Rejected", "Pending"]
    central.interval = 1
    bridge_to(central, world.charger_a1)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    a1.result("StatusNotification", _status(1, "Available"))
    eventually(lambda: len(central.of(identity, "BootNotification")) == 3, timeout=8)
    eventually(lambda: central.of(identity, "StatusNotification"))
    actions = central.actions(identity)
    assert actions[:3] == ["BootNotification"] * 3
    assert central.violations == []
    link = eventually(
        lambda: UpstreamLink.objects.filter(
            charger=world.charger_a1, state=LinkState.CONNECTED
        ).first()
    )
    assert link.boot_status == "Accepted"
    events = eventually(
        lambda: (
            list(
                Event.objects.filter(type__startswith="upstream.")
                .order_by("id")
                .values_list("type", "payload")
            )
            if Event.objects.filter(type="upstream.connected").exists()
            else None
        )
    )
    assert events == [
        ("upstream.refused", {"reason": "upstream answered the boot Rejected"}),
        ("upstream.connected", {}),
    ]


def test_profile_1_sends_basic_credentials_and_a_wrong_password_is_refused(
    world: World, central: Central, chargers: Chargers
) -> None:
    identity = world.charger_a1.ocpp_identity
    central.passwords[f"FB-{identity}"] = "upstream-secret"
    settings = bridge_to(
        central, world.charger_a1, security_profile=1, password="wrong", identity="FB-{identity}"
    )
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    refused = eventually(
        lambda: UpstreamLink.objects.filter(
            charger=world.charger_a1, state=LinkState.REFUSED
        ).first()
    )
    assert "401" in refused.reason
    assert central.refused[0] == (f"FB-{identity}", 401)
    settings.password = "upstream-secret"
    settings.save()
    a1.close()
    eventually(lambda: not chargers.bridge.bridge.server.connections)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    eventually(lambda: central.of(f"FB-{identity}", "BootNotification"))
    assert central.violations == []


def test_status_is_re_sent_on_reconnect_not_replayed(
    world: World, central: Central, chargers: Chargers
) -> None:
    identity = world.charger_a1.ocpp_identity
    bridge_to(central, world.charger_a1)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    eventually(lambda: central.of(identity, "BootNotification"))
    central.stop()
    eventually(lambda: Event.objects.filter(type="upstream.disconnected").exists(), timeout=8)
    a1.result("StatusNotification", _status(1, "Preparing"))
    a1.result("StatusNotification", _status(1, "Charging"))
    a1.settle()
    central.start()
    eventually(lambda: len(central.of(identity, "BootNotification")) == 2, timeout=8)
    eventually(
        lambda: any(
            m.payload["status"] == "Charging" for m in central.of(identity, "StatusNotification")
        )
    )
    after = central.actions(identity)[central.actions(identity).index("BootNotification", 1) :]
    statuses = [m.payload["status"] for m in central.of(identity, "StatusNotification")]
    assert "Preparing" not in statuses  # history is not replayed
    assert after[:2] == ["BootNotification", "StatusNotification"]
    assert central.violations == []


def test_heartbeat_at_upstream_interval(world: World, central: Central, chargers: Chargers) -> None:
    central.interval = 1
    identity = world.charger_a1.ocpp_identity
    bridge_to(central, world.charger_a1)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    eventually(lambda: len(central.of(identity, "Heartbeat")) >= 2, timeout=5)


def test_the_ssrf_guard_is_checked_at_every_connect(
    world: World, central: Central, chargers: Chargers, settings: object
) -> None:
    """A URL saved while allowed, which the guard refuses now (production's rule: no local
    addresses), is never connected to; the link says why."""
    bridge_to(central, world.charger_a1)
    settings.UPSTREAM_ALLOW_LOCAL = False  # type: ignore[attr-defined]
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    refused = eventually(
        lambda: UpstreamLink.objects.filter(
            charger=world.charger_a1, state=LinkState.REFUSED
        ).first()
    )
    assert refused.reason.startswith("not connected:") and "127.0.0.1" in refused.reason
    a1.settle()
    assert central.received == []
