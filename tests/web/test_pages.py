"""The web pages, through Django's test client: who sees what, forms, and the workflows.

Standing personas (tests/conftest.py): alice owns site_a, ingrid installs it, dora drives
everywhere there, dave drives on charger A1 only, oscar owns site_b (the other tenant).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chargers.models import Charger
from installations.choices import Role
from installations.models import Circuit, Installation, Invitation, Membership
from installations.services import invite
from tests.conftest import PASSWORD, World

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


def field_errors(response: object, field: str) -> list[str]:
    """The inline error messages rendered under a form field."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return [
        unescape(message)
        for message in re.findall(rf'<p class="error" id="id_{field}_error_\d+">(.*?)</p>', html)
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


# ---------- Installations ----------

INSTALLATION_FORM = {
    "name": "Fjord office",
    "address": "Strandgata 1\n5013 Bergen",
    "time_zone": "Europe/Oslo",
    "authorization_mode": "locked",
    "phases": "3",
    "voltage_v": "230",
    "network_type": "IT",
    "main_fuse_a": "100",
    "failsafe_current_a": "8",
    "max_phase_imbalance_a": "",
    "price_per_kwh": "2.5",
    "currency": "nok",
}


def test_creating_an_installation_makes_the_creator_its_owner(
    world: World, client_as: ClientAs
) -> None:
    client = client_as(world.dora)
    response = client.post(reverse("installations:create"), INSTALLATION_FORM)
    installation = Installation.objects.get(name="Fjord office")
    assert response.url == reverse("installations:detail", args=[installation.pk])
    assert installation.currency == "NOK"
    assert installation.network_type == "IT"
    assert installation.role_of(world.dora) == Role.OWNER
    assert installation.main_fuse.max_current_a == 100
    html = client.get(response.url).content.decode()
    assert "Fjord office was created" in html
    assert "100 <small>A</small>" in html


def test_installation_form_shows_field_messages(world: World, client_as: ClientAs) -> None:
    data = INSTALLATION_FORM | {
        "name": "",
        "currency": "EU1",
        "failsafe_current_a": "81",
        "time_zone": "Mars/Olympus",
        "main_fuse_a": "0",
    }
    response = client_as(world.alice).post(reverse("installations:create"), data)
    assert response.status_code == 200
    assert field_errors(response, "name") == ["This field is required."]
    assert field_errors(response, "failsafe_current_a") == [
        "Ensure this value is less than or equal to 80."
    ]
    assert field_errors(response, "time_zone")
    assert field_errors(response, "main_fuse_a")
    assert not Installation.objects.filter(name="").exists()

    response = client_as(world.alice).post(
        reverse("installations:create"), INSTALLATION_FORM | {"currency": "EU1"}
    )
    assert field_errors(response, "currency") == [
        "Use a three-letter ISO 4217 code such as EUR or NOK."
    ]


@pytest.mark.parametrize("persona", ["alice", "ingrid"])
def test_owners_and_installers_edit_the_settings(
    world: World, client_as: ClientAs, persona: str
) -> None:
    data = {k: v for k, v in INSTALLATION_FORM.items() if k != "main_fuse_a"} | {
        "name": "Harbour P2"
    }
    response = client_as(getattr(world, persona)).post(
        reverse("installations:edit", args=[world.site_a.pk]), data
    )
    assert response.status_code == 302
    world.site_a.refresh_from_db()
    assert world.site_a.name == "Harbour P2"
    assert world.site_a.price_per_kwh == 2.5


def test_only_an_owner_deletes_an_installation(world: World, client_as: ClientAs) -> None:
    url = reverse("installations:delete", args=[world.site_a.pk])
    assert client_as(world.ingrid).get(url).status_code == 404
    assert client_as(world.ingrid).post(url).status_code == 404
    edit = client_as(world.ingrid).get(reverse("installations:edit", args=[world.site_a.pk]))
    assert url not in edit.content.decode()

    alice = client_as(world.alice)
    assert "Delete Harbour car park?" in alice.get(url).content.decode()
    assert alice.post(url).url == reverse("installations:list")
    assert not Installation.objects.filter(pk=world.site_a.pk).exists()
    assert not Charger.objects.filter(ocpp_identity="HARBOUR-A1").exists()


# ---------- Circuits ----------


def test_the_circuit_tree_nests_circuits_with_their_chargers(
    world: World, client_as: ClientAs
) -> None:
    html = (
        client_as(world.alice)
        .get(reverse("installations:circuits", args=[world.site_a.pk]))
        .content.decode()
    )
    main = html.index('data-circuit="Main fuse"')
    row = html.index('data-circuit="Row A"')
    assert main < row
    assert "63 A" in html and "32 A" in html
    # A1 hangs below Row A, A2 directly below the main fuse.
    assert html.index("HARBOUR-A1") > row
    assert html.index("HARBOUR-A2") < row


def test_adding_a_sub_circuit(world: World, client_as: ClientAs) -> None:
    client = client_as(world.ingrid)
    url = reverse("installations:circuit_create", args=[world.site_a.pk])
    form = client.get(url, {"parent": world.row_a.pk}).content.decode()
    assert f'<option value="{world.row_a.pk}" selected>' in form
    response = client.post(
        url, {"name": "Row A left", "parent": world.row_a.pk, "max_current_a": "16"}
    )
    assert response.url == reverse("installations:circuits", args=[world.site_a.pk])
    circuit = Circuit.objects.get(name="Row A left")
    assert circuit.parent == world.row_a
    assert circuit.installation == world.site_a


def test_circuit_validation_messages_come_from_the_model(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    url = reverse("installations:circuit_create", args=[world.site_a.pk])
    response = client.post(
        url, {"name": "Too big", "parent": world.row_a.pk, "max_current_a": "40"}
    )
    assert field_errors(response, "max_current_a") == [
        "40 A is above the parent circuit Row A (32 A)."
    ]
    response = client.post(url, {"name": "Row A", "parent": world.main_a.pk, "max_current_a": "10"})
    assert field_errors(response, "name") == [
        "Another circuit of this installation already has this name."
    ]
    response = client.post(
        reverse("installations:circuit_edit", args=[world.main_a.pk]),
        {"name": "Main fuse", "max_current_a": "20"},
    )
    assert field_errors(response, "max_current_a") == [
        "Sub-circuits Row A (32 A) would be above this circuit's limit."
    ]
    response = client.post(
        reverse("installations:circuit_edit", args=[world.row_a.pk]),
        {"name": "Row A", "parent": world.row_a.pk, "max_current_a": "32"},
    )
    assert field_errors(response, "parent")  # not below itself: not even offered
    assert Circuit.objects.filter(installation=world.site_a).count() == 2


def test_deleting_circuits(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    response = client.post(
        reverse("installations:circuit_delete", args=[world.row_a.pk]), follow=True
    )
    assert "move or remove them first" in response.content.decode()
    assert Circuit.objects.filter(pk=world.row_a.pk).exists()
    response = client.post(
        reverse("installations:circuit_delete", args=[world.main_a.pk]), follow=True
    )
    assert "The main fuse cannot be deleted" in response.content.decode()

    spare = Circuit.objects.create(
        installation=world.site_a, parent=world.main_a, name="Spare", max_current_a=10
    )
    client.post(reverse("installations:circuit_delete", args=[spare.pk]))
    assert not Circuit.objects.filter(pk=spare.pk).exists()


# ---------- Chargers ----------

CHARGER_DEFAULTS = {
    "phases": "3",
    "phase_rotation": "L1L2L3",
    "min_current_a": "6",
    "max_current_a": "16",
    "priority": "0",
    "authorization_mode": "inherit",
}


def test_registering_a_charger_shows_its_password_once(world: World, client_as: ClientAs) -> None:
    client = client_as(world.ingrid)
    response = client.post(
        reverse("chargers:register", args=[world.site_a.pk]),
        {
            "name": "A3",
            "ocpp_identity": "HARBOUR-A3",
            "circuit": world.row_a.pk,
            "connector_count": "2",
        }
        | CHARGER_DEFAULTS,
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    password = re.search(r'data-testid="ocpp-password">([^<]+)</code>', html).group(1)
    charger = Charger.objects.get(ocpp_identity="HARBOUR-A3")
    assert charger.check_ocpp_password(password)
    assert password not in charger.ocpp_password_hash
    assert "ws://127.0.0.1:9000/ocpp/HARBOUR-A3" in html
    assert charger.connectors.count() == 2
    assert charger.installation == world.site_a

    detail = client.get(reverse("chargers:detail", args=[charger.pk])).content.decode()
    assert password not in detail
    assert "HARBOUR-A3" in detail
    assert password not in str(dict(client.session))


def test_registering_a_charger_that_tried_to_connect_prefills_its_identity(
    world: World, client_as: ClientAs
) -> None:
    url = reverse("chargers:register", args=[world.site_a.pk])
    html = client_as(world.alice).get(url, {"ocpp_identity": "NEW-42"}).content.decode()
    assert 'value="NEW-42"' in html


def test_charger_form_shows_field_messages(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    url = reverse("chargers:register", args=[world.site_a.pk])
    data = {
        "name": "A1",
        "ocpp_identity": "HARBOUR-A1",
        "circuit": world.row_a.pk,
        "connector_count": "1",
    }
    response = client.post(
        url, data | CHARGER_DEFAULTS | {"max_current_a": "40", "min_current_a": "50"}
    )
    assert response.status_code == 200
    assert field_errors(response, "ocpp_identity") == [
        "Charger with this OCPP identity already exists."
    ]
    assert field_errors(response, "max_current_a") == ["40 A is above circuit Row A (32 A)."]
    assert field_errors(response, "min_current_a") == [
        "The minimum current is above the maximum current."
    ]
    response = client.post(url, data | CHARGER_DEFAULTS | {"ocpp_identity": "bad identity!"})
    assert field_errors(response, "ocpp_identity")
    assert field_errors(response, "name") == [
        "Another charger of this installation already has this name."
    ]
    assert Charger.objects.filter(installation=world.site_a).count() == 2


def test_editing_a_charger(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    response = client.post(
        reverse("chargers:edit", args=[world.charger_a1.pk]),
        {"name": "A1 west", "ocpp_identity": "HARBOUR-A1", "circuit": world.main_a.pk}
        | CHARGER_DEFAULTS,
    )
    assert response.url == reverse("chargers:detail", args=[world.charger_a1.pk])
    world.charger_a1.refresh_from_db()
    assert world.charger_a1.name == "A1 west"
    assert world.charger_a1.circuit == world.main_a


def test_rotating_the_ocpp_password(world: World, client_as: ClientAs) -> None:
    client = client_as(world.alice)
    old_hash = world.charger_a1.ocpp_password_hash
    assert (
        client.get(reverse("chargers:rotate_password", args=[world.charger_a1.pk])).status_code
        == 405
    )
    response = client.post(reverse("chargers:rotate_password", args=[world.charger_a1.pk]))
    assert "no-store" in response["Cache-Control"]
    password = re.search(
        r'data-testid="ocpp-password">([^<]+)</code>', response.content.decode()
    ).group(1)
    world.charger_a1.refresh_from_db()
    assert world.charger_a1.ocpp_password_hash != old_hash
    assert world.charger_a1.check_ocpp_password(password)


def test_removing_a_charger(world: World, client_as: ClientAs) -> None:
    response = client_as(world.alice).post(reverse("chargers:delete", args=[world.charger_a2.pk]))
    assert response.url == reverse("installations:chargers", args=[world.site_a.pk])
    assert not Charger.objects.filter(pk=world.charger_a2.pk).exists()


# ---------- Members and invitations ----------


def test_inviting_someone_sends_an_email(
    world: World, client_as: ClientAs, django_capture_on_commit_callbacks: Callable
) -> None:
    client = client_as(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("installations:invite", args=[world.site_a.pk]),
            {"email": "New.Driver@Example.com", "role": "driver"},
        )
    assert response.url == reverse("installations:members", args=[world.site_a.pk])
    invitation = Invitation.objects.get(email="new.driver@example.com")
    assert invitation.installation == world.site_a
    assert invitation.role == Role.DRIVER
    assert invitation.invited_by == world.alice
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.driver@example.com"]
    assert reverse("invitation", args=[invitation.token]) in mail.outbox[0].body
    html = client.get(response.url).content.decode()
    assert "new.driver@example.com" in html
    assert "was sent to new.driver@example.com" in html


def test_invitation_errors_show_on_the_form(world: World, client_as: ClientAs) -> None:
    url = reverse("installations:invite", args=[world.site_a.pk])
    response = client_as(world.alice).post(url, {"email": "dora@example.com", "role": "driver"})
    assert field_errors(response, "email") == [
        "dora@example.com is already a member of Harbour car park."
    ]
    response = client_as(world.alice).post(url, {"email": "not an address", "role": "driver"})
    assert field_errors(response, "email") == ["Enter a valid email address."]
    # Installers may not make owners: the role is not even offered.
    response = client_as(world.ingrid).post(url, {"email": "boss@example.com", "role": "owner"})
    assert field_errors(response, "role")
    assert not Invitation.objects.filter(email="boss@example.com").exists()


def test_accepting_an_invitation(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "newcomer@example.com", Role.INSTALLER)
    url = reverse("invitation", args=[invitation.token])
    html = client.get(url).content.decode()
    assert "Join Harbour car park" in html
    assert "Alice Owner" in html
    assert f"{reverse('account_login')}?next=%2Finvitations%2F{invitation.token}%2F" in html
    assert f"{reverse('account_signup')}?next=%2Finvitations%2F{invitation.token}%2F" in html

    newcomer = User.objects.create_user("newcomer@example.com", PASSWORD)
    client.force_login(newcomer)
    assert "Accept invitation" in client.get(url).content.decode()
    response = client.post(url)
    assert response.url == reverse("installations:detail", args=[world.site_a.pk])
    assert world.site_a.role_of(newcomer) == Role.INSTALLER
    assert "You joined Harbour car park" in client.get(url).content.decode()
    client.force_login(world.dora)
    assert "no longer valid" in client.get(url).content.decode()


def test_accepting_while_logged_out_asks_to_log_in(world: World, client: Client) -> None:
    invitation = invite(world.alice, world.site_a, "x@example.com", Role.DRIVER)
    response = client.post(reverse("invitation", args=[invitation.token]))
    assert response.url.startswith(reverse("account_login") + "?next=")
    assert not Membership.objects.filter(user__email="x@example.com").exists()


def test_changing_roles_and_removing_members(world: World, client_as: ClientAs) -> None:
    alice = client_as(world.alice)
    dora = Membership.objects.get(user=world.dora, installation=world.site_a)
    alice.post(reverse("installations:member_role", args=[dora.pk]), {"role": "installer"})
    dora.refresh_from_db()
    assert dora.role == Role.INSTALLER

    # An installer may not touch an owner: no control, and the POST is refused with a message.
    owner = Membership.objects.get(user=world.alice, installation=world.site_a)
    ingrid = client_as(world.ingrid)
    html = ingrid.get(reverse("installations:members", args=[world.site_a.pk])).content.decode()
    assert reverse("installations:member_role", args=[owner.pk]) not in html
    response = ingrid.post(
        reverse("installations:member_role", args=[owner.pk]), {"role": "driver"}, follow=True
    )
    assert "You may not manage members with the role owner here." in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER

    dave = Membership.objects.get(user=world.dave, installation=world.site_a)
    ingrid.post(reverse("installations:member_remove", args=[dave.pk]))
    assert not Membership.objects.filter(pk=dave.pk).exists()

    response = alice.post(reverse("installations:member_remove", args=[owner.pk]), follow=True)
    assert "An installation must keep at least one owner." in response.content.decode()


def test_a_driver_may_leave_but_not_remove_others(world: World, client_as: ClientAs) -> None:
    dora = client_as(world.dora)
    dave = Membership.objects.get(user=world.dave, installation=world.site_a)
    assert dora.post(reverse("installations:member_remove", args=[dave.pk])).status_code == 404
    assert (
        dora.post(
            reverse("installations:member_role", args=[dave.pk]), {"role": "owner"}
        ).status_code
        == 404
    )
    own = Membership.objects.get(user=world.dora, installation=world.site_a)
    assert dora.post(reverse("installations:member_remove", args=[own.pk])).url == reverse(
        "installations:list"
    )
    assert not Membership.objects.filter(pk=own.pk).exists()
    assert dora.get(reverse("installations:detail", args=[world.site_a.pk])).status_code == 404


def test_revoking_an_invitation(world: World, client_as: ClientAs) -> None:
    owner_invite = invite(world.alice, world.site_a, "co-owner@example.com", Role.OWNER)
    driver_invite = invite(world.alice, world.site_a, "driver@example.com", Role.DRIVER)
    ingrid = client_as(world.ingrid)
    response = ingrid.post(
        reverse("installations:invitation_revoke", args=[owner_invite.pk]), follow=True
    )
    assert "You may not manage members with the role owner here." in response.content.decode()
    ingrid.post(reverse("installations:invitation_revoke", args=[driver_invite.pk]))
    assert list(Invitation.objects.filter(installation=world.site_a)) == [owner_invite]


# ---------- Account pages (allauth) use the product's layout ----------


def test_account_pages_render_in_the_product_layout(world: World, client: Client) -> None:
    for name in ["account_login", "account_signup", "account_reset_password"]:
        html = client.get(reverse(name)).content.decode()
        assert 'class="card auth-card"' in html, name
        assert "/static/css/app." in html, name
    client.force_login(world.alice)
    for name in ["account_email", "account_change_password", "mfa_index"]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert 'class="settings-nav"' in html, name
        assert 'aria-current="page"' in html, name
    assert 'class="card auth-card"' in client.get(reverse("account_logout")).content.decode()

    # Setting up TOTP asks for the password again, then shows the QR code in the settings layout.
    response = client.get(reverse("mfa_activate_totp"), follow=True)
    assert 'class="card auth-card"' in response.content.decode()
    response = client.post(response.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    html = response.content.decode()
    assert response.request["PATH_INFO"] == reverse("mfa_activate_totp")
    assert 'class="qr"' in html
    assert 'class="settings-nav"' in html


def test_login_form_shows_errors_inline(world: World, client: Client) -> None:
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": "wrong"}
    )
    html = response.content.decode()
    assert "alert-error" in html
    assert "not correct" in html
    response = client.post(
        reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD}
    )
    assert response.url == reverse("installations:list")
