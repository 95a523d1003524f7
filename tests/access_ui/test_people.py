"""The Access tab's "Who may charge": rights installation-wide or on named chargers, members'
cards, 50 members a page with search, and the forms coming back to the member's page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from auth_access import services
from auth_access.models import ChargeCard, ChargerPermission
from installations.models import Membership
from tests.access_ui.conftest import (
    a_crowd,
    field_html,
    html_of,
    membership,
    url,
)
from tests.conftest import World

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


# ---------- Who may charge ----------


def test_people_lists_each_members_right_and_cards(world: World, client_as: ClientAs) -> None:
    services.add_card(world.alice, world.dora, "DORA-1", installation=world.site_a, name="Blue fob")
    services.add_card(world.dora, world.dora, "DORA-OWN")  # hers alone: not listed here
    services.add_card(world.oscar, world.oscar, "OSCAR-1")  # another tenant's member
    html = html_of(client_as(world.alice).get(url("people", world)))
    members = html.split('data-testid="access-members"', 1)[1]
    dora = members.split('data-member="dora@example.com"', 1)[1].split('data-member="', 1)[0]
    dave = members.split('data-member="dave@example.com"', 1)[1].split('data-member="', 1)[0]
    assert "Every charger here" in dora and "DORA-1" in dora and "Blue fob" in dora
    assert "DORA-OWN" not in html
    assert "Only A1" in dave and "No cards." in dave
    assert "Every charger (as installer)" in members
    assert "OSCAR-1" not in html and "oscar@example.com" not in html
    # Owners and installers carry no rights form (their role lets them charge everywhere).
    assert html.count('action="/installations/') >= 2
    assert url("rights", world, membership(world, world.alice).pk) not in html
    assert url("rights", world, membership(world, world.dave).pk) in html


def test_an_owner_grants_a_driver_a_further_charger(world: World, client_as: ClientAs) -> None:
    dave = membership(world, world.dave)
    data = {f"m{dave.pk}-scope": "named", f"m{dave.pk}-chargers": [world.charger_a1.pk,
                                                                   world.charger_a2.pk]}  # fmt: skip
    client = client_as(world.alice)
    response = client.post(url("rights", world, dave.pk), data)
    assert response.status_code == 302
    assert response["Location"] == f"{url('people', world)}#member-{dave.pk}"
    named = ChargerPermission.objects.filter(membership=dave)
    assert sorted(p.charger.name for p in named) == ["A1", "A2"]
    assert named.get(charger=world.charger_a2).granted_by == world.alice
    page = html_of(client.get(url("people", world)))
    assert "Dave Driver may now charge on A1, A2." in page and "Only A1, A2" in page


def test_an_installer_revokes_a_charger_and_grants_the_whole_site(
    world: World, client_as: ClientAs
) -> None:
    dave = membership(world, world.dave)
    client = client_as(world.ingrid)
    client.post(url("rights", world, dave.pk), {f"m{dave.pk}-scope": "named"})
    dave.refresh_from_db()
    assert not dave.may_charge_everywhere and not dave.charger_permissions.exists()
    assert "Dave Driver may now charge on no charger here." in html_of(
        client.get(url("people", world))
    )
    client.post(url("rights", world, dave.pk), {f"m{dave.pk}-scope": "everywhere"})
    dave.refresh_from_db()
    assert dave.may_charge_everywhere


def test_an_invalid_rights_form_shows_its_error_on_the_field(
    world: World, client_as: ClientAs
) -> None:
    dave = membership(world, world.dave)
    data = {f"m{dave.pk}-scope": "named", f"m{dave.pk}-chargers": [world.charger_b1.pk]}
    response = client_as(world.alice).post(url("rights", world, dave.pk), data)
    assert response.status_code == 200
    html = html_of(response)
    assert f"Select a valid choice. {world.charger_b1.pk} is not one of the available" in html
    assert '<details class="access-edit" open>' in html  # the form with the error is open
    assert (
        list(ChargerPermission.objects.filter(membership=dave))
        == list(dave.charger_permissions.all())
        and dave.charger_permissions.count() == 1
    )


def test_a_driver_cannot_grant_themselves_rights(world: World, client_as: ClientAs) -> None:
    dave = membership(world, world.dave)
    everywhere = {f"m{dave.pk}-scope": "everywhere"}
    response = client_as(world.dave).post(url("rights", world, dave.pk), everywhere)
    assert response.status_code == 404
    dora = membership(world, world.dora)
    assert client_as(world.dora).post(url("rights", world, dave.pk), everywhere).status_code == 404
    assert client_as(world.dora).post(url("rights", world, dora.pk), everywhere).status_code == 404
    dave.refresh_from_db()
    assert not dave.may_charge_everywhere
    assert list(dave.charger_permissions.values_list("charger__name", flat=True)) == ["A1"]


def test_rights_of_another_installations_member_are_404(world: World, client_as: ClientAs) -> None:
    oscar = Membership.objects.get(user=world.oscar, installation=world.site_b)
    response = client_as(world.alice).post(
        url("rights", world, oscar.pk), {f"m{oscar.pk}-scope": "named"}
    )
    assert response.status_code == 404


def test_an_owner_adds_a_card_for_a_member(world: World, client_as: ClientAs) -> None:
    data = {"user": world.dave.pk, "id_tag": "van-3", "name": "Van 3", "expires_on": "2030-06-01"}
    response = client_as(world.alice).post(url("member_card_add", world), data)
    assert response.status_code == 302
    card = ChargeCard.objects.get(id_tag="VAN-3")
    assert (card.user, card.created_by, card.name) == (world.dave, world.alice, "Van 3")
    # 00:00 on that day in the installation's time zone (Europe/Oslo, summer: UTC+2).
    assert card.expires_at.isoformat() == "2030-05-31T22:00:00+00:00"
    html = html_of(client_as(world.dave).get(reverse("access:cards")))
    assert "VAN-3" in html and "Added by Alice Owner" in html


def test_a_member_card_the_model_refuses_shows_why_on_the_field(
    world: World, client_as: ClientAs
) -> None:
    services.add_card(world.dora, world.dora, "DORA-1")
    data = {"user": world.dave.pk, "id_tag": "dora-1", "name": ""}
    response = client_as(world.alice).post(url("member_card_add", world), data)
    assert response.status_code == 200
    html = html_of(response)
    assert "This card is already registered." in field_html(html, "id_id_tag")
    assert ChargeCard.objects.filter(user=world.dave).count() == 0


def test_cards_only_for_members_of_this_installation(world: World, client_as: ClientAs) -> None:
    data = {"user": world.oscar.pk, "id_tag": "OSCAR-9"}
    response = client_as(world.alice).post(url("member_card_add", world), data)
    assert "Select a valid choice." in html_of(response)
    assert not ChargeCard.objects.filter(id_tag="OSCAR-9").exists()


def test_an_owner_blocks_and_edits_a_members_card(world: World, client_as: ClientAs) -> None:
    card = services.add_card(world.alice, world.dora, "DORA-1", installation=world.site_a)
    client = client_as(world.alice)
    back = f"{url('people', world)}#member-{membership(world, world.dora).pk}"
    response = client.post(reverse("access:card_block", args=[card.pk]), {"next": back})
    assert response["Location"] == back
    card.refresh_from_db()
    assert card.is_blocked and card.blocked_by == world.alice
    edit = url("member_card_edit", world, card.pk)
    assert 'name="expires_on"' in html_of(client.get(edit))
    response = client.post(edit, {"name": "Lost", "expires_on": "2031-01-01"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.name == "Lost" and card.expires_at.isoformat() == "2030-12-31T23:00:00+00:00"
    # Another tenant's owner cannot reach it.
    assert client_as(world.oscar).get(edit).status_code == 404
    other = reverse("access:member_card_edit", args=[world.site_b.pk, card.pk])
    assert client_as(world.oscar).get(other).status_code == 404


def test_editing_a_card_goes_back_to_its_holders_page(world: World, client_as: ClientAs) -> None:
    everyone = a_crowd(world)
    holder = User.objects.get(email=everyone[-1])  # the 60th member: page 2
    card = services.add_card(world.alice, holder, "ZED-CARD-1", installation=world.site_a)
    client = client_as(world.alice)
    edit = url("member_card_edit", world, card.pk)
    back = f"{url('people', world)}?page=2#member-{membership(world, holder).pk}"
    assert f'href="{back}"' in html_of(client.get(edit))  # Cancel
    response = client.post(edit, {"name": "Garage fob", "expires_on": ""})
    assert response["Location"] == back


def members_shown(html: str) -> list[str]:
    return re.findall(r'data-member="([^"]+)"', html)


def test_who_may_charge_comes_fifty_members_a_page_by_role_then_name(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.alice)
    few = html_of(client.get(url("people", world)))
    assert len(members_shown(few)) == 4 and 'id="people-search"' not in few  # one page: no search
    everyone = a_crowd(world)
    first = html_of(client.get(url("people", world)))
    assert members_shown(first) == everyone[:50]
    assert "Page 1 of 2" in first and 'rel="next" href="?page=2"' in first
    assert 'id="people-search"' in first
    second = html_of(client.get(url("people", world) + "?page=2"))
    assert members_shown(second) == everyone[50:] and len(everyone) == 60
    assert 'rel="prev" href="?page=1"' in second


def test_members_are_found_by_name_or_e_mail(world: World, client_as: ClientAs) -> None:
    a_crowd(world)
    client = client_as(world.ingrid)

    def found(query: str, page: int = 1) -> list[str]:
        return members_shown(html_of(client.get(url("people", world), {"q": query, "page": page})))

    assert found("driver") == ["dave@example.com", "dora@example.com"]  # their names
    assert found("Zed1") == [f"zed{n}@example.com" for n in range(10, 20)]  # any case
    assert found("AARON@") == ["aaron@example.com"]  # an e-mail
    assert len(found("@example.com")) == 50 and len(found("@example.com", page=2)) == 10
    html = html_of(client.get(url("people", world), {"q": "@example.com"}))
    assert 'rel="next" href="?page=2&q=%40example.com"' in html  # the search is kept
    dave = membership(world, world.dave)
    html = html_of(client.get(url("people", world), {"q": "driver"}))
    assert f'action="{url("rights", world, dave.pk)}?q=driver"' in html


def test_a_search_that_finds_no_member_says_so(world: World, client_as: ClientAs) -> None:
    html = html_of(client_as(world.alice).get(url("people", world), {"q": "nobody"}))
    assert "No member matches “nobody”" in html and members_shown(html) == []
    assert f'href="{url("people", world)}">Show all members</a>' in html


def test_saving_rights_leads_back_to_the_members_page(world: World, client_as: ClientAs) -> None:
    a_crowd(world)
    zed52 = Membership.objects.get(user__email="zed52@example.com")
    client = client_as(world.alice)
    named = {f"m{zed52.pk}-scope": "named", f"m{zed52.pk}-chargers": [world.charger_a2.pk]}
    response = client.post(url("rights", world, zed52.pk) + "?page=2", named)
    assert response["Location"] == f"{url('people', world)}?page=2#member-{zed52.pk}"
    page = html_of(client.get(response["Location"]))
    assert "zed52 may now charge on A2." in page
    assert "Only A2" in page.split('data-member="zed52@example.com"', 1)[1]
    # The member's page is where they are now, whatever page the form was sent from.
    response = client.post(url("rights", world, zed52.pk), {f"m{zed52.pk}-scope": "everywhere"})
    assert response["Location"] == f"{url('people', world)}?page=2#member-{zed52.pk}"
    # A search the form was sent from is kept.
    response = client.post(url("rights", world, zed52.pk) + "?q=zed5", named)
    assert response["Location"] == f"{url('people', world)}?q=zed5#member-{zed52.pk}"


def test_a_rights_form_with_errors_shows_on_its_members_page(
    world: World, client_as: ClientAs
) -> None:
    a_crowd(world)
    zed52 = Membership.objects.get(user__email="zed52@example.com")
    client = client_as(world.alice)
    wrong = {f"m{zed52.pk}-scope": "named", f"m{zed52.pk}-chargers": [world.charger_b1.pk]}
    response = client.post(url("rights", world, zed52.pk), wrong)  # sent without a page
    assert response.status_code == 200
    html = html_of(response)
    assert "Page 2 of 2" in html and "zed52@example.com" in members_shown(html)
    member = html.split('data-member="zed52@example.com"', 1)[1].split('data-member="', 1)[0]
    assert '<details class="access-edit" open>' in member
    assert f"Select a valid choice. {world.charger_b1.pk} is not one of the available" in member
    # That page's links (to other pages) lead back to the list.
    response = client.get(url("rights", world, zed52.pk) + "?page=1")
    assert response.status_code == 302 and response["Location"] == url("people", world) + "?page=1"


def test_a_card_added_leads_to_its_members_page(world: World, client_as: ClientAs) -> None:
    a_crowd(world)
    zed53 = User.objects.get(email="zed53@example.com")
    client = client_as(world.alice)
    response = client.post(url("member_card_add", world), {"user": zed53.pk, "id_tag": "ZED-53"})
    zed53_membership = membership(world, zed53)
    assert response["Location"] == (f"{url('people', world)}?page=2#member-{zed53_membership.pk}")
    page = html_of(client.get(response["Location"]))
    assert "ZED-53" in page.split('data-member="zed53@example.com"', 1)[1]
    # A card the model refuses shows the page the form was sent from.
    response = client.post(url("member_card_add", world) + "?page=2", {"user": zed53.pk})
    assert response.status_code == 200 and "Page 2 of 2" in html_of(response)
