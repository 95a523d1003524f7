"""The web pages, through Django's test client: who sees which page, and another tenant's pages not at all
(forms and workflows: test_installation_pages, test_charger_pages, test_member_pages,
test_account_pages).

Standing personas (tests/conftest.py): alice owns site_a, ingrid installs it, dora drives
everywhere there, dave drives on charger A1 only, oscar owns site_b (the other tenant).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chargers.models import Charger
from installations.choices import Role
from installations.models import Circuit, Installation
from installations.services import invite
from tests.conftest import PASSWORD, World
from tests.web.conftest import CHARGER_DEFAULTS, field_errors

pytestmark = pytest.mark.django_db


ClientAs = Callable[[User], Client]


def manager_pages(world: World) -> list[str]:
    """Every GET page of site_a that an owner or installer uses."""
    site, row, charger = world.site_a.pk, world.row_a.pk, world.charger_a1.pk
    return [
        reverse("installations:detail", args=[site]),
        reverse("installations:edit", args=[site]),
        reverse("installations:circuits", args=[site]),
        reverse("installations:circuit_create", args=[site]),
        reverse("installations:circuit_edit", args=[row]),
        reverse("installations:circuit_delete", args=[row]),
        reverse("installations:chargers", args=[site]),
        reverse("installations:members", args=[site]),
        reverse("chargers:register", args=[site]),
        reverse("chargers:detail", args=[charger]),
        reverse("chargers:edit", args=[charger]),
        reverse("chargers:delete", args=[charger]),
    ]


def administer_pages(world: World) -> list[str]:
    """Pages that change site_a: none of them exists for a driver."""
    site, row, main, charger = world.site_a.pk, world.row_a.pk, world.main_a.pk, world.charger_a1.pk
    return [
        reverse("installations:edit", args=[site]),
        reverse("installations:delete", args=[site]),
        reverse("installations:circuits", args=[site]),
        reverse("installations:circuit_create", args=[site]),
        reverse("installations:circuit_edit", args=[row]),
        reverse("installations:circuit_edit", args=[main]),
        reverse("installations:circuit_delete", args=[row]),
        reverse("chargers:register", args=[site]),
        reverse("chargers:edit", args=[charger]),
        reverse("chargers:delete", args=[charger]),
    ]


def other_tenant_gets(world: World) -> list[str]:
    site, main, charger = world.site_b.pk, world.main_b.pk, world.charger_b1.pk
    return [
        reverse("installations:detail", args=[site]),
        reverse("installations:edit", args=[site]),
        reverse("installations:delete", args=[site]),
        reverse("installations:circuits", args=[site]),
        reverse("installations:circuit_create", args=[site]),
        reverse("installations:circuit_edit", args=[main]),
        reverse("installations:circuit_delete", args=[main]),
        reverse("installations:chargers", args=[site]),
        reverse("installations:members", args=[site]),
        reverse("chargers:register", args=[site]),
        reverse("chargers:detail", args=[charger]),
        reverse("chargers:edit", args=[charger]),
        reverse("chargers:delete", args=[charger]),
    ]


def other_tenant_posts(world: World) -> list[tuple[str, dict[str, str]]]:
    site, main, charger = world.site_b.pk, world.main_b.pk, world.charger_b1.pk
    membership = world.site_b.memberships.get()
    invitation = invite(world.oscar, world.site_b, "someone@example.com", Role.DRIVER)
    return [
        (reverse("installations:edit", args=[site]), {"name": "hijacked"}),
        (reverse("installations:delete", args=[site]), {}),
        (reverse("installations:circuit_create", args=[site]), {"name": "x", "max_current_a": "1"}),
        (reverse("installations:circuit_edit", args=[main]), {"name": "x", "max_current_a": "1"}),
        (reverse("installations:circuit_delete", args=[main]), {}),
        (
            reverse("installations:invite", args=[site]),
            {"email": "me@example.com", "role": "owner"},
        ),
        (reverse("installations:member_role", args=[membership.pk]), {"role": "driver"}),
        (reverse("installations:member_remove", args=[membership.pk]), {}),
        (reverse("installations:invitation_revoke", args=[invitation.pk]), {}),
        (reverse("chargers:register", args=[site]), {"name": "x", "ocpp_identity": "X-1"}),
        (reverse("chargers:edit", args=[charger]), {"name": "hijacked"}),
        (reverse("chargers:delete", args=[charger]), {}),
        (reverse("chargers:rotate_password", args=[charger]), {}),
    ]


# ---------- Pages per role ----------


def test_anonymous_visitors_are_sent_to_the_login_page(world: World, client: Client) -> None:
    assert client.get("/").url == reverse("account_login")
    for url in [reverse("installations:list"), *manager_pages(world)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("account_login")), url


def test_home_leads_a_logged_in_user_to_the_installations(
    world: World, client_as: ClientAs
) -> None:
    assert client_as(world.alice).get("/").url == reverse("installations:list")


@pytest.mark.parametrize("persona", ["alice", "ingrid"])
def test_owners_and_installers_see_every_page(
    world: World, client_as: ClientAs, persona: str
) -> None:
    client = client_as(getattr(world, persona))
    for url in manager_pages(world):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Harbour car park" in response.content.decode(), url


def test_the_list_shows_each_users_installations_with_role_and_counts(
    world: World, client_as: ClientAs
) -> None:
    Charger.objects.filter(pk=world.charger_a1.pk).update(is_online=True)
    html = client_as(world.alice).get(reverse("installations:list")).content.decode()
    assert "Harbour car park" in html
    assert "Depot north" not in html
    assert "Office west" not in html
    assert 'class="badge badge-owner"' in html
    assert "<strong>2</strong> chargers" in html
    assert "1 online" in html

    html = client_as(world.ingrid).get(reverse("installations:list")).content.decode()
    assert "Harbour car park" in html
    assert "Office west" in html
    assert "Depot north" not in html
    assert html.count('class="badge badge-installer"') == 2


def test_the_list_can_be_searched(world: World, client_as: ClientAs) -> None:
    client = client_as(world.ingrid)
    html = client.get(reverse("installations:list"), {"q": "office"}).content.decode()
    assert "Office west" in html
    assert "Harbour car park" not in html
    html = client.get(reverse("installations:list"), {"q": "depot"}).content.decode()
    assert "Nothing matches" in html  # another tenant's installation is not found either


def test_a_new_user_sees_an_empty_state_with_create(client_as: ClientAs) -> None:
    newbie = User.objects.create_user("newbie@example.com", PASSWORD)
    html = client_as(newbie).get(reverse("installations:list")).content.decode()
    assert "No installations yet" in html
    assert reverse("installations:create") in html


def test_drivers_see_their_installation_and_the_chargers_they_may_use(
    world: World, client_as: ClientAs
) -> None:
    dora, dave = client_as(world.dora), client_as(world.dave)
    html = dora.get(reverse("installations:list")).content.decode()
    assert "Harbour car park" in html
    assert "Depot north" not in html
    assert 'class="badge badge-driver"' in html

    chargers = reverse("installations:chargers", args=[world.site_a.pk])
    html = dora.get(chargers).content.decode()
    assert "HARBOUR-A1" in html and "HARBOUR-A2" in html
    html = dave.get(chargers).content.decode()
    assert "HARBOUR-A1" in html
    assert "HARBOUR-A2" not in html
    assert dave.get(reverse("chargers:detail", args=[world.charger_a2.pk])).status_code == 404
    assert dave.get(reverse("chargers:detail", args=[world.charger_a1.pk])).status_code == 200


@pytest.mark.parametrize("persona", ["dora", "dave"])
def test_drivers_get_no_buttons_they_cannot_use(
    world: World, client_as: ClientAs, persona: str
) -> None:
    client = client_as(getattr(world, persona))
    pages = [
        reverse("installations:detail", args=[world.site_a.pk]),
        reverse("installations:chargers", args=[world.site_a.pk]),
        reverse("installations:members", args=[world.site_a.pk]),
        reverse("chargers:detail", args=[world.charger_a1.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for forbidden in [
            reverse("installations:edit", args=[world.site_a.pk]),
            reverse("chargers:register", args=[world.site_a.pk]),
            reverse("installations:circuits", args=[world.site_a.pk]),
            reverse("chargers:edit", args=[world.charger_a1.pk]),
            reverse("chargers:rotate_password", args=[world.charger_a1.pk]),
            "ws://",
        ]:
            assert forbidden not in html, (url, forbidden)


@pytest.mark.parametrize("persona", ["dora", "dave"])
def test_drivers_get_404_on_the_administration_pages_of_their_installation(
    world: World, client_as: ClientAs, persona: str
) -> None:
    client = client_as(getattr(world, persona))
    circuits = reverse("installations:circuits", args=[world.site_a.pk])
    for url in administer_pages(world):
        assert client.get(url).status_code == 404, url
        if url != circuits:  # a read-only page
            assert client.post(url, {"name": "hijacked"}).status_code == 404, url
    assert (
        client.post(reverse("chargers:rotate_password", args=[world.charger_a1.pk])).status_code
        == 404
    )
    assert Installation.objects.get(pk=world.site_a.pk).name == "Harbour car park"


def test_drivers_do_not_see_the_member_list(world: World, client_as: ClientAs) -> None:
    html = (
        client_as(world.dora)
        .get(reverse("installations:members", args=[world.site_a.pk]))
        .content.decode()
    )
    assert "My access" in html
    assert "alice@example.com" not in html
    assert "dave@example.com" not in html
    assert "ingrid@example.com" not in html
    assert "Leave installation" in html


# ---------- Tenancy: another tenant's objects do not exist ----------


@pytest.mark.parametrize("persona", ["alice", "ingrid", "dora", "dave"])
def test_every_page_of_another_tenant_is_not_found(
    world: World, client_as: ClientAs, persona: str
) -> None:
    client = client_as(getattr(world, persona))
    for url in other_tenant_gets(world):
        assert client.get(url).status_code == 404, url
    for url, data in other_tenant_posts(world):
        assert client.post(url, data).status_code == 404, url
    world.site_b.refresh_from_db()
    world.charger_b1.refresh_from_db()
    assert world.site_b.name == "Depot north"
    assert world.charger_b1.name == "B1"
    assert world.site_b.memberships.get().role == Role.OWNER
    assert world.site_b.invitations.count() == 1
    assert Circuit.objects.filter(installation=world.site_b).count() == 1


def test_another_tenants_circuit_cannot_be_chosen_in_a_form(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    response = client.post(
        reverse("chargers:register", args=[world.site_a.pk]),
        {
            "name": "Sneaky",
            "ocpp_identity": "SNEAKY-1",
            "circuit": world.main_b.pk,
            "connector_count": 1,
        }
        | CHARGER_DEFAULTS,
    )
    assert response.status_code == 200
    assert field_errors(response, "circuit")
    assert not Charger.objects.filter(ocpp_identity="SNEAKY-1").exists()
    response = client.post(
        reverse("installations:circuit_create", args=[world.site_a.pk]),
        {"name": "Sneaky", "parent": world.main_b.pk, "max_current_a": 10},
    )
    assert field_errors(response, "parent")
    assert not Circuit.objects.filter(name="Sneaky").exists()
