"""The forced invitation, end to end: an owner of another installation invites a driver by
e-mail. Nothing happens until the driver answers; even once they join, that owner never sees
the driver's own cards, cannot block or expire them, and a card he registers in the driver's
name charges only at his installation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from auth_access.decisions import authorize
from auth_access.models import ChargeCard
from installations.choices import AuthorizationMode
from installations.models import Installation, Invitation, Membership
from tests.conftest import PASSWORD, World, api_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def doras_card(world: World) -> ChargeCard:
    """Dora's own card; both installations identify who charges."""
    Installation.objects.update(authorization_mode=AuthorizationMode.LOCKED)
    return ChargeCard.objects.create(user=world.dora, id_tag="DORA-1", created_by=world.dora)


def _invite_dora(world: World) -> Invitation:
    response = api_as(world.oscar).post(
        "/api/v1/invitations/",
        {"installation": world.site_b.pk, "email": "dora@example.com", "role": "driver"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return Invitation.objects.get(pk=response.json()["id"])


def _browser(email: str) -> Client:
    browser = Client()
    response = browser.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def _oscar_reaches_nothing_of(world: World, card: ChargeCard) -> None:
    """Oscar (owner of Depot north) neither sees nor touches dora's own card: API and pages."""
    oscar = api_as(world.oscar)
    listed = oscar.get("/api/v1/cards/").json()["results"]
    assert card.id_tag not in [c["id_tag"] for c in listed]
    assert oscar.get(f"/api/v1/cards/?user={world.dora.pk}").json()["results"] == [
        c for c in listed if c["user"] == world.dora.pk
    ]
    url = f"/api/v1/cards/{card.pk}/"
    assert oscar.get(url).status_code == 404
    assert oscar.post(url + "block/").status_code == 404
    assert oscar.patch(url, {"expires_at": timezone.now().isoformat()}).status_code == 404
    assert oscar.delete(url).status_code == 404
    browser = Client()
    browser.force_login(world.oscar)
    people = browser.get(reverse("access:people", args=[world.site_b.pk])).content.decode()
    assert card.id_tag not in people
    edit = reverse("access:member_card_edit", args=[world.site_b.pk, card.pk])
    assert browser.get(edit).status_code == 404
    assert browser.post(reverse("access:card_block", args=[card.pk])).status_code == 404
    card.refresh_from_db()
    assert not card.is_blocked and card.expires_at is None
    assert authorize(world.charger_a1, card.id_tag).accepted  # still charges at Harbour


def test_the_attack_gets_nothing_before_or_after_the_driver_joins(
    world: World, doras_card: ChargeCard
) -> None:
    invitation = _invite_dora(world)
    dora = _browser("dora@example.com")  # logging in accepts nothing
    assert not Membership.objects.filter(user=world.dora, installation=world.site_b).exists()
    assert Invitation.objects.get(pk=invitation.pk).is_open

    # Oscar cannot register a card in the name of someone who is not (yet) his member.
    refused = api_as(world.oscar).post(
        "/api/v1/cards/",
        {"id_tag": "FOR-DORA", "user": world.dora.pk, "installation": world.site_b.pk},
        format="json",
    )
    assert refused.status_code == 400 and "user" in refused.json()["error"]["fields"]
    _oscar_reaches_nothing_of(world, doras_card)

    # Dora sees the invitation (page and API) and decides; say she accepts.
    assert "Depot north" in dora.get("/installations/").content.decode()
    pending = api_as(world.dora).get("/api/v1/me/invitations/").json()["results"]
    assert [(p["id"], p["installation_name"], p["role"]) for p in pending] == [
        (invitation.pk, "Depot north", "driver")
    ]
    accepted = api_as(world.dora).post(f"/api/v1/me/invitations/{invitation.pk}/accept/")
    assert accepted.status_code == 200, accepted.content
    assert (accepted.json()["installation"], accepted.json()["role"]) == (
        world.site_b.pk,
        "driver",
    )
    assert api_as(world.dora).get("/api/v1/me/invitations/").json()["results"] == []

    # A member now, and still her own card is hers alone.
    _oscar_reaches_nothing_of(world, doras_card)

    # A card oscar registers for her charges only at his installation, and his block or expiry
    # of it stays there.
    registered = api_as(world.oscar).post(
        "/api/v1/cards/",
        {"id_tag": "FOR-DORA", "user": world.dora.pk, "installation": world.site_b.pk},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    card = ChargeCard.objects.get(id_tag="FOR-DORA")
    assert card.installation == world.site_b and card.user == world.dora
    harbour = authorize(world.charger_a1, "FOR-DORA")
    assert (harbour.status, harbour.reason, harbour.user_id) == (
        "Invalid",
        "card registered at another installation",
        None,
    )
    assert authorize(world.charger_b1, "FOR-DORA").accepted
    assert "FOR-DORA" in dora.get(reverse("access:cards")).content.decode()  # she sees it
    oscar = api_as(world.oscar)
    assert oscar.post(f"/api/v1/cards/{card.pk}/block/").json()["is_blocked"] is True
    assert authorize(world.charger_b1, "FOR-DORA").status == "Blocked"
    past = (timezone.now() - timedelta(days=1)).isoformat()
    assert oscar.patch(f"/api/v1/cards/{card.pk}/", {"expires_at": past}).status_code == 200
    assert authorize(world.charger_a1, "DORA-1").accepted


def test_the_driver_declines_over_the_api(world: World, doras_card: ChargeCard) -> None:
    invitation = _invite_dora(world)
    declined = api_as(world.dora).post(f"/api/v1/me/invitations/{invitation.pk}/decline/")
    assert declined.status_code == 200, declined.content
    assert declined.json()["declined_at"] is not None
    assert not Membership.objects.filter(user=world.dora, installation=world.site_b).exists()
    shown = api_as(world.oscar).get(f"/api/v1/invitations/{invitation.pk}/").json()
    assert shown["declined_at"] is not None and shown["accepted_at"] is None
    again = api_as(world.dora).post(f"/api/v1/me/invitations/{invitation.pk}/accept/")
    assert again.status_code == 404
    assert api_as(world.dora).get("/api/v1/me/invitations/").json()["results"] == []


def test_nobody_answers_someone_elses_invitation(world: World) -> None:
    invitation = _invite_dora(world)
    for path in ("accept", "decline"):
        response = api_as(world.dave).post(f"/api/v1/me/invitations/{invitation.pk}/{path}/")
        assert response.status_code == 404
    assert api_as(world.dave).get("/api/v1/me/invitations/").json()["results"] == []
    assert Invitation.objects.get(pk=invitation.pk).is_open


def test_the_driver_declines_on_the_installations_page(world: World) -> None:
    invitation = _invite_dora(world)
    dora = _browser("dora@example.com")
    page = dora.get("/installations/").content.decode()
    assert 'data-testid="pending-invitation"' in page
    response = dora.post(f"/invitations/{invitation.token}/", {"answer": "decline"})
    assert response.status_code == 302
    assert "Invitations waiting" not in dora.get("/installations/").content.decode()
    assert not Membership.objects.filter(user=world.dora, installation=world.site_b).exists()
