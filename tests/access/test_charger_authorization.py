"""Every path of the decision over real OCPP websockets: Authorize and StartTransaction answered
by the bridge, recorded, with unknown cards noted as seen cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auth_access import services
from auth_access.models import AuthorizationRecord, ChargeCard, ChargerPermission, SeenCard
from chargers.models import ChargeSession
from installations.choices import AuthorizationMode
from tests.access.conftest import FUTURE
from tests.conftest import World
from tests.ocpp.conftest import Chargers, TestCharger

pytestmark = pytest.mark.usefixtures("transactional_db")

ACCEPTED_2031 = {"status": "Accepted", "expiryDate": FUTURE.strftime("%Y-%m-%dT%H:%M:%SZ")}
START = {"connectorId": 1, "meterStart": 100, "timestamp": "2026-02-01T18:00:00Z"}


def authorize(charger: TestCharger, id_tag: str) -> dict:
    return charger.result("Authorize", {"idTag": id_tag})["idTagInfo"]


@pytest.mark.parametrize(
    ("id_tag", "charger", "answer", "reason"),
    [
        ("DORA-1", "charger_a1", ACCEPTED_2031, "may charge on the whole installation"),
        ("dora-1", "charger_a2", ACCEPTED_2031, "may charge on the whole installation"),
        ("DAVE-1", "charger_a1", {"status": "Accepted"}, "may charge on this charger"),
        ("DAVE-1", "charger_a2", {"status": "Invalid"}, "not permitted on this charger"),
        ("INGRID-1", "charger_a2", {"status": "Accepted"}, "installer of this installation"),
        ("OSCAR-1", "charger_a1", {"status": "Invalid"}, "not a member of this installation"),
        ("NOBODY", "charger_a1", {"status": "Invalid"}, "unknown card"),
    ],
)
def test_authorize_is_answered_with_the_decision_and_recorded(
    world: World,
    chargers: Chargers,
    cards: dict[str, ChargeCard],
    id_tag: str,
    charger: str,
    answer: dict,
    reason: str,
) -> None:
    test_charger = chargers.connect(getattr(world, charger))
    assert authorize(test_charger, id_tag) == answer
    record = AuthorizationRecord.objects.get()
    card = ChargeCard.objects.filter(id_tag=id_tag.upper()).first()
    assert (record.charger, record.installation, record.id_tag) == (
        getattr(world, charger),
        world.site_a,
        id_tag.upper(),
    )
    assert (record.status, record.reason, record.source, record.trigger) == (
        answer["status"],
        reason,
        "local",
        "authorize",
    )
    assert (record.card, record.user) == (card, card.user if card else None)
    assert 0 < record.latency_ms < 1000


def test_blocked_and_expired_cards(world: World, a1: TestCharger) -> None:
    ChargeCard.objects.create(user=world.dora, id_tag="LOST", is_blocked=True)
    ChargeCard.objects.create(
        user=world.dora, id_tag="OLD", expires_at=timezone.now() - timedelta(days=1)
    )
    assert authorize(a1, "LOST") == {"status": "Blocked"}
    assert authorize(a1, "OLD") == {"status": "Expired"}
    assert list(AuthorizationRecord.objects.values_list("reason", flat=True)) == [
        "card has expired",
        "card is blocked",
    ]


def test_an_unknown_card_becomes_a_seen_card_an_owner_assigns_in_one_step(
    world: World, a1: TestCharger, a2: TestCharger
) -> None:
    assert authorize(a1, "new-card") == {"status": "Invalid"}
    assert authorize(a1, "NEW-CARD") == {"status": "Invalid"}
    reply = a2.result("StartTransaction", {**START, "idTag": "NEW-CARD"})
    assert reply["idTagInfo"] == {"status": "Invalid"}
    seen = {s.charger.name: s for s in SeenCard.objects.select_related("charger")}
    assert {name: s.times_seen for name, s in seen.items()} == {"A1": 2, "A2": 1}
    assert seen["A1"].id_tag == "NEW-CARD" and seen["A1"].first_seen_at <= seen["A1"].last_seen_at

    card = services.assign_seen_card(world.alice, seen["A1"], world.dora, "Dora's spare")
    assert (card.id_tag, card.user, card.created_by, card.name) == (
        "NEW-CARD",
        world.dora,
        world.alice,
        "Dora's spare",
    )
    assert not SeenCard.objects.exists()  # gone from every charger's list
    assert authorize(a1, "NEW-CARD") == {"status": "Accepted"}
    assert not SeenCard.objects.exists()


class TestModes:
    def test_an_open_installation_accepts_anyone_and_attributes_valid_cards(
        self, world: World, a1: TestCharger, cards: dict[str, ChargeCard]
    ) -> None:
        world.site_a.authorization_mode = AuthorizationMode.OPEN
        world.site_a.save()
        assert authorize(a1, "NOBODY") == {"status": "Accepted"}
        reply = a1.result("StartTransaction", {**START, "idTag": "OSCAR-1"})
        assert reply["idTagInfo"] == {"status": "Accepted"}
        assert ChargeSession.objects.get().user == world.oscar
        assert SeenCard.objects.get().id_tag == "NOBODY"  # unknown, even where it is accepted

    def test_a_locked_charger_on_an_open_installation(
        self, world: World, chargers: Chargers, cards: dict[str, ChargeCard]
    ) -> None:
        world.site_a.authorization_mode = AuthorizationMode.OPEN
        world.site_a.save()
        world.charger_a1.authorization_mode = "locked"
        world.charger_a1.save()
        a1, a2 = chargers.connect(world.charger_a1), chargers.connect(world.charger_a2)
        assert authorize(a1, "NOBODY") == {"status": "Invalid"}
        assert authorize(a1, "DORA-1") == ACCEPTED_2031
        assert authorize(a2, "NOBODY") == {"status": "Accepted"}

    def test_an_open_charger_on_a_locked_installation(
        self, world: World, chargers: Chargers
    ) -> None:
        world.charger_a2.authorization_mode = "open"
        world.charger_a2.save()
        a1, a2 = chargers.connect(world.charger_a1), chargers.connect(world.charger_a2)
        assert authorize(a2, "NOBODY") == {"status": "Accepted"}
        assert AuthorizationRecord.objects.get().reason == "open charger"
        assert authorize(a1, "NOBODY") == {"status": "Invalid"}


class TestRevocationAppliesAtTheNextAuthorization:
    def test_a_per_charger_permission(
        self, world: World, a1: TestCharger, a2: TestCharger, cards: dict[str, ChargeCard]
    ) -> None:
        assert authorize(a1, "DAVE-1") == {"status": "Accepted"}
        assert authorize(a2, "DAVE-1") == {"status": "Invalid"}
        membership = world.site_a.memberships.get(user=world.dave)
        services.grant_charger(world.ingrid, membership, world.charger_a2)
        assert authorize(a2, "DAVE-1") == {"status": "Accepted"}
        services.revoke_charger(
            world.alice, ChargerPermission.objects.get(charger=world.charger_a1)
        )
        assert authorize(a1, "DAVE-1") == {"status": "Invalid"}
        assert authorize(a2, "DAVE-1") == {"status": "Accepted"}

    def test_the_installation_wide_permission(
        self, world: World, a2: TestCharger, cards: dict[str, ChargeCard]
    ) -> None:
        assert authorize(a2, "DORA-1") == ACCEPTED_2031
        membership = world.site_a.memberships.get(user=world.dora)
        services.set_installation_wide(world.alice, membership, False)
        assert authorize(a2, "DORA-1") == {"status": "Invalid"}
        services.set_installation_wide(world.alice, membership, True)
        assert authorize(a2, "DORA-1") == ACCEPTED_2031

    def test_a_blocked_card_a_removed_member_and_a_disabled_account(
        self, world: World, a1: TestCharger, cards: dict[str, ChargeCard]
    ) -> None:
        services.update_card(world.alice, cards["dora"], {"is_blocked": True})
        assert authorize(a1, "DORA-1") == {"status": "Blocked"}
        services.update_card(world.alice, cards["dora"], {"is_blocked": False})
        assert authorize(a1, "DORA-1") == ACCEPTED_2031
        world.dave.is_active = False
        world.dave.save()
        assert authorize(a1, "DAVE-1") == {"status": "Blocked"}
        world.site_a.memberships.get(user=world.dora).delete()
        assert authorize(a1, "DORA-1") == {"status": "Invalid"}


def test_start_and_stop_are_decided_attributed_and_recorded(
    world: World, a1: TestCharger, cards: dict[str, ChargeCard]
) -> None:
    reply = a1.result("StartTransaction", {**START, "idTag": "DAVE-1"})
    session = ChargeSession.objects.get()
    assert reply == {"transactionId": session.pk, "idTagInfo": {"status": "Accepted"}}
    assert (session.user, session.card) == (world.dave, cards["dave"])
    stop = {"transactionId": session.pk, "meterStop": 900, "timestamp": "2026-02-01T19:00:00Z"}
    assert a1.result("StopTransaction", {**stop, "idTag": "DAVE-1"}) == {
        "idTagInfo": {"status": "Accepted"}
    }
    records = AuthorizationRecord.objects.order_by("id")
    assert [(r.trigger, r.connector_id, r.status, r.user) for r in records] == [
        ("start", 1, "Accepted", world.dave),
        ("stop", None, "Accepted", world.dave),
    ]
