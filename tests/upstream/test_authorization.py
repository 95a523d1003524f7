"""Authorization modes at a bridged charger: Fusebox decides, upstream decides, both must
accept; while upstream is unreachable (docs/upstream.md, "Authorization modes")."""

from __future__ import annotations

import pytest

from auth_access.choices import DecisionSource
from auth_access.models import AuthorizationRecord, ChargeCard
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger, eventually
from tests.upstream.central import Central
from tests.upstream.conftest import boot, bridge_to
from upstream.choices import OfflineAuthorization, UpstreamAuthorization
from upstream.models import UpstreamTransaction


@pytest.fixture(autouse=True)
def card(world: World) -> ChargeCard:
    return ChargeCard.objects.create(user=world.dora, id_tag="DORA-1")


def _connect(world: World, central: Central, chargers: Chargers, **options: object) -> TestCharger:
    bridge_to(central, world.charger_a1, **options)
    a1 = chargers.connect(world.charger_a1, accepted=False)
    boot(a1)
    links = chargers.bridge.bridge.upstream.links
    eventually(lambda: world.charger_a1.pk in links and links[world.charger_a1.pk].ready)
    return a1


def _authorize(a1: TestCharger, id_tag: str) -> str:
    return a1.result("Authorize", {"idTag": id_tag})["idTagInfo"]["status"]


def _record(id_tag: str) -> AuthorizationRecord:
    return eventually(lambda: AuthorizationRecord.objects.filter(id_tag=id_tag).first())


def test_a_card_is_authorized_by_upstream_in_upstream_decides(
    world: World, central: Central, chargers: Chargers
) -> None:
    central.id_tags["UPSTREAM-7"] = "Accepted"
    a1 = _connect(world, central, chargers, authorization=UpstreamAuthorization.UPSTREAM)
    assert _authorize(a1, "UPSTREAM-7") == "Accepted"  # a card Fusebox does not know
    identity = world.charger_a1.ocpp_identity
    assert central.of(identity, "Authorize")[0].payload == {"idTag": "UPSTREAM-7"}
    a1.settle()
    record = _record("UPSTREAM-7")
    assert (record.status, record.source) == ("Accepted", DecisionSource.EXTERNAL)
    assert record.reason == "upstream central system: Accepted"
    assert AuthorizationRecord.objects.filter(id_tag="UPSTREAM-7").count() == 1
    # The StartTransaction that follows is accepted as upstream's decision.
    started = a1.result(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "UPSTREAM-7",
            "meterStart": 0,
            "timestamp": "2026-02-01T18:00:00Z",
        },
    )
    assert started["idTagInfo"]["status"] == "Accepted"
    assert central.violations == []


def test_upstream_decides_against_a_card_fusebox_accepts(
    world: World, central: Central, chargers: Chargers
) -> None:
    central.id_tags["DORA-1"] = "Blocked"
    a1 = _connect(world, central, chargers, authorization=UpstreamAuthorization.UPSTREAM)
    assert _authorize(a1, "DORA-1") == "Blocked"


def test_both_must_accept(world: World, central: Central, chargers: Chargers) -> None:
    central.id_tags["DORA-1"] = "Accepted"
    a1 = _connect(world, central, chargers, authorization=UpstreamAuthorization.BOTH)
    assert _authorize(a1, "DORA-1") == "Accepted"
    assert _authorize(a1, "STRANGER") == "Invalid"  # Fusebox refuses: upstream is not asked
    identity = world.charger_a1.ocpp_identity
    assert [m.payload["idTag"] for m in central.of(identity, "Authorize")] == ["DORA-1"]
    central.id_tags["DORA-1"] = "Expired"
    assert _authorize(a1, "DORA-1") == "Expired"


def test_fusebox_decides_without_asking_upstream(
    world: World, central: Central, chargers: Chargers
) -> None:
    a1 = _connect(world, central, chargers)
    assert _authorize(a1, "DORA-1") == "Accepted"
    assert _authorize(a1, "STRANGER") == "Invalid"
    assert central.of(world.charger_a1.ocpp_identity, "Authorize") == []


@pytest.mark.parametrize(
    ("offline", "dora", "stranger"),
    [
        (OfflineAuthorization.ACCEPT_KNOWN, "Accepted", "Invalid"),
        (OfflineAuthorization.REFUSE, "Invalid", "Invalid"),
    ],
)
def test_while_upstream_is_unreachable_the_offline_rule_decides(
    world: World, central: Central, chargers: Chargers, offline: str, dora: str, stranger: str
) -> None:
    central.id_tags["STRANGER"] = "Accepted"
    a1 = _connect(
        world,
        central,
        chargers,
        authorization=UpstreamAuthorization.UPSTREAM,
        offline_authorization=offline,
    )
    central.stop()
    eventually(lambda: not chargers.bridge.bridge.upstream.links[world.charger_a1.pk].ready)
    assert _authorize(a1, "DORA-1") == dora
    assert _authorize(a1, "STRANGER") == stranger
    a1.settle()
    assert _record("DORA-1").source == DecisionSource.FALLBACK


@pytest.mark.parametrize(
    ("mode", "stopped"),
    [(UpstreamAuthorization.UPSTREAM, True), (UpstreamAuthorization.FUSEBOX, False)],
)
def test_a_transaction_upstream_refuses_is_stopped_where_upstream_decides(
    world: World, central: Central, chargers: Chargers, mode: str, stopped: bool
) -> None:
    """Upstream accepted the card, then answers the StartTransaction Blocked (it was blocked
    meanwhile): where upstream decides, the charger is asked to stop that transaction; where
    Fusebox decides, upstream's answer only informs."""
    central.id_tags["DORA-1"] = "Accepted"
    a1 = _connect(world, central, chargers, authorization=mode)
    assert _authorize(a1, "DORA-1") == "Accepted"
    central.id_tags["DORA-1"] = "Blocked"
    started = a1.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "DORA-1", "meterStart": 0, "timestamp": "2026-02-01T18:00:00Z"},
    )
    identity = world.charger_a1.ocpp_identity
    eventually(lambda: central.of(identity, "StartTransaction"))
    if stopped:
        stop = eventually(
            lambda: [m for m in a1.received if m[2] == "RemoteStopTransaction"] or None
        )
        assert stop[0][3] == {"transactionId": started["transactionId"]}
    else:
        a1.settle()
        eventually(lambda: UpstreamTransaction.objects.filter(id_tag_status="Blocked").exists())
        assert [m for m in a1.received if m[2] == "RemoteStopTransaction"] == []
