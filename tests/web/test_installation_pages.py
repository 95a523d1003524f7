"""Installation and circuit pages: create, edit, delete, the circuit tree, model messages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from chargers.models import Charger
from installations.choices import Role
from installations.models import Circuit, Installation
from tests.conftest import World
from tests.web.conftest import field_errors

pytestmark = pytest.mark.django_db


ClientAs = Callable[[User], Client]

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
