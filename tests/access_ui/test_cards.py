"""My cards: every user manages their own cards, sees no one else's, and the rules of
``auth_access.services`` show as messages (a driver cannot undo their owner's block)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from auth_access import services
from auth_access.models import ChargeCard
from tests.access_ui.conftest import field_html, see_card
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]
CARDS = reverse("access:cards")


@pytest.fixture
def cards(world: World) -> dict[str, ChargeCard]:
    return {
        "dora": services.add_card(world.dora, world.dora, "dora-1", name="Blue fob"),
        "dave": services.add_card(world.dave, world.dave, "DAVE-1", name="Dave's card"),
        "alice": services.add_card(world.alice, world.alice, "ALICE-1"),
    }


def page(client: Client, url: str = CARDS) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return unescape(response.content.decode())


@pytest.mark.parametrize("persona", ["alice", "ingrid", "dora", "dave", "oscar"])
def test_everyone_has_my_cards_in_the_top_bar(
    world: World, client_as: ClientAs, persona: str
) -> None:
    html = page(client_as(getattr(world, persona)), reverse("installations:list"))
    assert f'href="{CARDS}"' in html and "My cards" in html


def test_a_visitor_is_sent_to_log_in() -> None:
    response = Client().get(CARDS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("persona", "mine", "others"),
    [
        ("dora", ["DORA-1"], ["DAVE-1", "ALICE-1"]),
        ("dave", ["DAVE-1"], ["DORA-1", "ALICE-1"]),
        # An owner manages members' cards on the Access tab; "My cards" are her own.
        ("alice", ["ALICE-1"], ["DORA-1", "DAVE-1"]),
        ("oscar", [], ["DORA-1", "DAVE-1", "ALICE-1"]),
    ],
)
def test_each_user_sees_only_their_own_cards(
    world: World, cards: dict, client_as: ClientAs, persona: str, mine: list, others: list
) -> None:
    html = page(client_as(getattr(world, persona)))
    for id_tag in mine:
        assert f'data-card="{id_tag}"' in html
    for id_tag in others:
        assert id_tag not in html
    if not mine:
        assert "No cards yet" in html


def test_a_driver_adds_a_card_and_sees_it_with_its_name(world: World, client_as: ClientAs) -> None:
    client = client_as(world.dora)
    response = client.post(CARDS, {"id_tag": " abc123 ", "name": "Work badge"})
    assert response.status_code == 302 and response["Location"] == CARDS
    card = ChargeCard.objects.get(id_tag="ABC123")
    assert (card.user, card.name, card.created_by) == (world.dora, "Work badge", world.dora)
    html = page(client)
    assert "Card ABC123 was added." in html
    assert 'data-card="ABC123"' in html and "Work badge" in html and "No expiry" in html


def test_adding_a_card_clears_it_from_the_seen_lists(world: World, client_as: ClientAs) -> None:
    see_card(world.charger_a1, "NEW-FOB")
    client_as(world.dora).post(CARDS, {"id_tag": "new-fob"})
    assert not world.charger_a1.seen_cards.exists()


@pytest.mark.parametrize(
    ("id_tag", "message"),
    [
        ("DAVE-1", "This card is already registered."),  # another user's card
        ("dave-1", "This card is already registered."),  # upper-case is the same card
        ("has space", "Use 1-20 printable characters without spaces"),
        (
            "FBAAAAAAAAAAAAAAAA",
            "Card numbers starting with FB and 18 characters long are reserved.",
        ),
    ],
)
def test_a_card_the_model_refuses_shows_why_on_the_field(
    world: World, cards: dict, client_as: ClientAs, id_tag: str, message: str
) -> None:
    response = client_as(world.dora).post(CARDS, {"id_tag": id_tag, "name": "Mine"})
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert message in field_html(html, "id_id_tag"), "the message belongs to the card number"
    assert 'class="field has-error' in html
    assert ChargeCard.objects.filter(user=world.dora).count() == 1


def test_an_empty_card_number_is_required(world: World, client_as: ClientAs) -> None:
    html = unescape(client_as(world.dora).post(CARDS, {"id_tag": ""}).content.decode())
    assert "This field is required." in html and "has-error" in html


def test_rename(world: World, cards: dict, client_as: ClientAs) -> None:
    client = client_as(world.dora)
    url = reverse("access:card_edit", args=[cards["dora"].pk])
    html = page(client, url)
    assert 'value="Blue fob"' in html and 'name="expires_on"' not in html  # holders: name only
    response = client.post(url, {"name": "Red fob"})
    assert response.status_code == 302 and response["Location"] == CARDS
    assert ChargeCard.objects.get(pk=cards["dora"].pk).name == "Red fob"


def test_block_unblock_and_remove_my_own_card(
    world: World, cards: dict, client_as: ClientAs
) -> None:
    client = client_as(world.dora)
    card = cards["dora"]
    client.post(reverse("access:card_block", args=[card.pk]))
    card.refresh_from_db()
    assert card.is_blocked and card.blocked_by == world.dora
    html = page(client)
    assert "every charger refuses it from its next use" in html and ">Blocked<" in html
    client.post(reverse("access:card_unblock", args=[card.pk]))
    card.refresh_from_db()
    assert not card.is_blocked
    client.post(reverse("access:card_delete", args=[card.pk]))
    assert not ChargeCard.objects.filter(pk=card.pk).exists()
    assert "Card DORA-1 was removed." in page(client)


def test_a_driver_cannot_unblock_what_the_owner_blocked(
    world: World, cards: dict, client_as: ClientAs
) -> None:
    services.update_card(world.alice, cards["dora"], {"is_blocked": True})
    client = client_as(world.dora)
    html = page(client)
    assert "Blocked by Alice Owner" in html
    client.post(reverse("access:card_unblock", args=[cards["dora"].pk]))
    assert ChargeCard.objects.get(pk=cards["dora"].pk).is_blocked
    assert "This card was blocked by your installation; ask its owner." in page(client)


def test_expiry_and_who_added_the_card_are_shown(world: World, client_as: ClientAs) -> None:
    services.add_card(
        world.alice,
        world.dora,
        "GIVEN-1",
        installation=world.site_a,
        expires_at=datetime(2031, 1, 1, tzinfo=UTC),
    )
    services.add_card(
        world.alice,
        world.dave,
        "OLD-1",
        installation=world.site_a,
        expires_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    html = page(client_as(world.dora))
    assert "Valid until" in html and "1 Jan 2031" in html and "Added by Alice Owner" in html
    assert "Registered at Harbour car park: charges only there" in html
    html = page(client_as(world.dave))
    assert ">Expired<" in html and "1 Jan 2020" in html


@pytest.mark.parametrize("action", ["card_block", "card_unblock", "card_delete"])
def test_another_drivers_card_is_out_of_reach(
    world: World, cards: dict, client_as: ClientAs, action: str
) -> None:
    dave_card = cards["dave"]
    response = client_as(world.dora).post(reverse(f"access:{action}", args=[dave_card.pk]))
    assert response.status_code == 404
    edit = reverse("access:card_edit", args=[dave_card.pk])
    assert client_as(world.dora).get(edit).status_code == 404
    assert (
        client_as(world.oscar).post(reverse(f"access:{action}", args=[dave_card.pk])).status_code
        == 404
    )
    dave_card.refresh_from_db()
    assert not dave_card.is_blocked


def test_the_card_buttons_are_post_only(world: World, cards: dict, client_as: ClientAs) -> None:
    url = reverse("access:card_delete", args=[cards["dora"].pk])
    assert client_as(world.dora).get(url).status_code == 405


def test_next_only_goes_back_into_the_site(world: World, cards: dict, client_as: ClientAs) -> None:
    client = client_as(world.dora)
    url = reverse("access:card_block", args=[cards["dora"].pk])
    response = client.post(url, {"next": "https://evil.example.com/"})
    assert response["Location"] == CARDS
